//! Jobs nobody will finish, and the objects they left in the store.
//!
//! A driver renews its job's liveness key; its outage timeout, kept in
//! the job hash as the job's *bound*, is how long it may fail to renew it
//! before the job is given up for good. The driver checks that on its own
//! monotonic clock, which runs on while the process is stopped
//! (`driver/bound.rs`): past the bound it fails its job and never
//! republishes it. Workers sweep (`worker/sweeper.rs`): a job whose
//! liveness key has been missing for longer than its bound, by Redis's
//! clock, is failed atomically — a driver's republish refuses a final state
//! ([`CLAIM`]) — and its `jobs/ID` deleted. The key goes missing a TTL
//! after the driver's last renewal at the earliest, so the sweep comes at
//! least a TTL after the driver gave up. Jobs that ended but whose own
//! cleanup failed (the store unreachable at the end) are swept too: every
//! published job stays in [`keys::UNSWEPT`] until its objects are deleted.
//!
//! Redis restarted empty forgets every job, [`keys::UNSWEPT`] included, so
//! a job whose driver died then would keep its objects: the first sweep
//! after Redis lost its data (or the first ever) lists the store's `jobs/`
//! and adopts each job Redis does not know as abandoned, with the default
//! bound (its own is lost with its hash); a driver still alive takes it
//! back when it republishes.
//!
//! A task of a swept job that commits late (its worker was stopped) sees
//! the final state after its commit and deletes what it wrote
//! (`worker/task.rs`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use shoal_store::Store;

use crate::control::Control;
use crate::{keys, ClusterError};

/// Job hash field: the job's bound in ms (its driver's outage timeout).
pub(crate) const BOUND_FIELD: &str = "abandon_after_ms";
/// Job hash field: how long (ms) the job's record stays after it ends, its
/// driver's `--history` ([`crate::ClusterConfig::history`]): also how long
/// it stays once a sweep gave the job up.
pub(crate) const HISTORY_FIELD: &str = "history_ms";
/// Job hash field: when (Redis time, ms) a sweep first found the job's
/// liveness key missing; a renewal deletes it.
pub(crate) const SINCE_FIELD: &str = "abandoned_ms";

/// Most jobs one sweep looks at.
const PER_SWEEP: usize = 256;

/// A driver (re)publishing its job takes it back, unless the job already
/// ended (a sweep gave it up, or it was cancelled). KEYS: job hash,
/// liveness key. ARGV: liveness TTL ms. Returns nil when taken, else the
/// job's error (or state).
pub(crate) static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'succeeded' or state == 'failed' or state == 'cancelled' then
  local error = redis.call('HGET', KEYS[1], 'error')
  if error and error ~= '' then return error end
  return state
end
redis.call('HSET', KEYS[1], 'state', 'running')
redis.call('HDEL', KEYS[1], 'abandoned_ms')
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return false
"#,
    )
});

/// What a sweep does with one job. KEYS: job hash, liveness key, event
/// stream. ARGV: the bound when the hash has none (ms), how long (ms) a
/// given-up job's hash is kept when it names no `history_ms` (one adopted
/// from the store). Returns 'keep' (running, or not silent long
/// enough), 'sweep' (ended: delete its objects) or 'forget' (Redis knows
/// nothing of it any more).
static VERDICT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'forget' end
if state ~= 'running' and state ~= 'abandoned' then return 'sweep' end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HDEL', KEYS[1], 'abandoned_ms')
  return 'keep'
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local since = tonumber(redis.call('HGET', KEYS[1], 'abandoned_ms'))
if not since then
  redis.call('HSET', KEYS[1], 'abandoned_ms', now)
  return 'keep'
end
local bound = tonumber(redis.call('HGET', KEYS[1], 'abandon_after_ms')) or tonumber(ARGV[1])
if now - since <= bound then return 'keep' end
redis.call('HSET', KEYS[1], 'state', 'failed', 'finished_ms', now, 'error',
  'given up: its driver was silent for longer than its outage timeout (' .. bound .. ' ms)')
redis.call('HDEL', KEYS[1], 'spec', 'abandoned_ms')
redis.call('PEXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'history_ms')) or ARGV[2])
redis.call('DEL', KEYS[3])
return 'sweep'
"#,
    )
});

/// A job found in the store and unknown to Redis is abandoned, unless it
/// appeared meanwhile. KEYS: job hash, [`keys::UNSWEPT`]. ARGV: job id.
static ADOPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'abandoned', 'error',
    'its objects were in the store, unknown to the control plane')
end
redis.call('SADD', KEYS[2], ARGV[1])
"#,
    )
});

/// The bound of a job published before jobs carried one: the default
/// outage timeout.
const DEFAULT_BOUND: Duration = Duration::from_secs(30);

/// Looks at up to [`PER_SWEEP`] unswept jobs: gives up those silent past
/// their bound, and deletes the objects of every ended one. Returns how
/// many jobs' objects were deleted; a store that fails leaves the job for
/// the next sweep (and is the error returned, after the other jobs).
pub(crate) fn sweep(control: &mut Control, store: &Store) -> Result<usize, ClusterError> {
    adopt_strays(control, store)?;
    let ids: Vec<String> = control.run("SRANDMEMBER unswept", Duration::ZERO, |c| {
        redis::cmd("SRANDMEMBER")
            .arg(keys::UNSWEPT)
            .arg(PER_SWEEP)
            .query(c)
    })?;
    let mut swept = 0;
    let mut failed = None;
    for id in ids {
        let verdict: String = control.run("sweep verdict", Duration::ZERO, |c| {
            VERDICT
                .key(keys::job(&id))
                .key(keys::job_alive(&id))
                .key(keys::job_events(&id))
                .arg(DEFAULT_BOUND.as_millis() as u64)
                .arg(crate::driver::HISTORY_SECONDS * 1000)
                .invoke(c)
        })?;
        match verdict.as_str() {
            "sweep" => match store.delete_prefix(&keys::job_prefix(&id)) {
                Ok(()) => {
                    forget(control, &id)?;
                    swept += 1;
                }
                Err(err) => failed = Some(err),
            },
            "forget" => forget(control, &id)?,
            _ => {}
        }
    }
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(swept),
    }
}

/// Drops `id` from the jobs whose objects may remain.
pub(crate) fn forget(control: &mut Control, id: &str) -> Result<(), ClusterError> {
    control.run("SREM unswept", Duration::ZERO, |c| {
        redis::cmd("SREM").arg(keys::UNSWEPT).arg(id).query::<()>(c)
    })
}

/// Once per Redis lifetime: adopts the jobs whose objects are in the store
/// but that Redis does not list (it restarted empty, or they predate it).
fn adopt_strays(control: &mut Control, store: &Store) -> Result<(), ClusterError> {
    let scanned: bool = control.run("EXISTS scanned", Duration::ZERO, |c| {
        redis::cmd("EXISTS").arg(keys::STORE_SCANNED).query(c)
    })?;
    if scanned {
        return Ok(());
    }
    let objects = store.list(JOBS_FOLDER)?;
    let mut ids: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.key.strip_prefix(JOBS_FOLDER)?.split('/').next())
        .collect();
    ids.dedup();
    for id in ids {
        control.run("adopt job", Duration::ZERO, |c| {
            ADOPT
                .key(keys::job(id))
                .key(keys::UNSWEPT)
                .arg(id)
                .invoke::<()>(c)
        })?;
    }
    control.run("SET scanned", Duration::ZERO, |c| {
        redis::cmd("SET")
            .arg(keys::STORE_SCANNED)
            .arg(1)
            .query::<()>(c)
    })
}

/// Where every job's objects live (see [`keys::job_prefix`]).
const JOBS_FOLDER: &str = "jobs/";
