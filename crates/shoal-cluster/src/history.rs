//! How long finished jobs stay in the control plane.
//!
//! A job's driver lists it in the `shoal:jobs` index (scored by its start)
//! and keeps its hash and trace; when the job ends it sets both to expire
//! after its retention (`ClusterConfig::history`, 24 h by default), and a
//! job found abandoned expires the same way. Expiry cannot reach into the
//! index, so every driver, as it starts a job, prunes it: an entry whose
//! job hash has gone leaves, with its trace when that is left (an abandoned
//! job's trace has no expiry of its own). A job still running
//! keeps its hash, so it stays however long ago it started.
//!
//! Only entries started longer ago than the pruning driver's retention
//! are looked at: a finished job's hash lasts at least that long after
//! its start, so nothing younger can have gone (with one retention
//! everywhere, the usual case). At most [`PRUNE_BATCH`] per job started,
//! two round trips; the index stays bounded by the jobs of one retention
//! period, plus those still running.

use std::time::Duration;

use crate::control::Control;
use crate::{keys, ClusterError};

/// Most index entries one prune looks at.
const PRUNE_BATCH: usize = 1000;

/// Removes from the job index the jobs started before `now_ms - retention`
/// whose hash has expired, with their remaining keys; returns their ids.
pub(crate) fn prune_jobs(
    control: &mut Control,
    retention: Duration,
    now_ms: u64,
) -> Result<Vec<String>, ClusterError> {
    let before = now_ms.saturating_sub(retention.as_millis() as u64);
    let old: Vec<String> = control.run("ZRANGEBYSCORE old jobs", Duration::ZERO, |c| {
        redis::cmd("ZRANGEBYSCORE")
            .arg(keys::JOBS)
            .arg("-inf")
            .arg(format!("({before}"))
            .arg("LIMIT")
            .arg(0)
            .arg(PRUNE_BATCH)
            .query(c)
    })?;
    if old.is_empty() {
        return Ok(old);
    }
    let exists: Vec<bool> = control.run("EXISTS old jobs", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for id in &old {
            pipe.cmd("EXISTS").arg(keys::job(id));
        }
        pipe.query(c)
    })?;
    let gone: Vec<String> = old
        .into_iter()
        .zip(exists)
        .filter(|(_, exists)| !exists)
        .map(|(id, _)| id)
        .collect();
    if gone.is_empty() {
        return Ok(gone);
    }
    control.run("prune jobs", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM").arg(keys::JOBS).arg(&gone).ignore();
        // The liveness key and the event stream expire or are deleted by
        // the job's end; only the trace can outlive the hash.
        for id in &gone {
            pipe.cmd("DEL").arg(keys::job_trace(id)).ignore();
        }
        pipe.query::<()>(c)
    })?;
    Ok(gone)
}
