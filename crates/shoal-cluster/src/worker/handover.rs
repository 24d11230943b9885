//! Taking over a name: the task entries a predecessor left pending.
//!
//! Drivers run a worker's pending task entries again once its
//! registration key expires. A worker restarted under the same name within
//! its heartbeat TTL keeps that key alive, and it reads only new entries
//! itself, so its predecessor's entries would stay pending for good and
//! their job would never end. So before it claims anything, a starting
//! worker moves every entry still pending under its name, in every task
//! stream (those of jobs it does not run too: a new build may lack a job
//! the old one had), to a consumer no live worker has
//! ([`keys::predecessor`]). The jobs' drivers then run those tasks again at
//! their next upkeep, as for any lost worker, and clear entries of jobs
//! that have ended.

use std::collections::BTreeSet;
use std::time::Duration;

use redis::Script;

use super::Worker;
use crate::control::Control;
use crate::{keys, ClusterError};

/// Moves the entries of consumer ARGV[2] in group ARGV[1] of stream
/// KEYS[1] to consumer ARGV[3], ARGV[4] at a time (bounded: a consumer
/// never holds more than a few thousand); returns how many moved. A stream
/// without the group (Redis lost it) has nothing to move.
const HAND_OVER: &str = r"
local moved = 0
for _ = 1, 100 do
  local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4], ARGV[2])
  if type(pending) ~= 'table' or pending.err or #pending == 0 then break end
  local claim = {'XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0}
  for _, entry in ipairs(pending) do claim[#claim + 1] = entry[1] end
  claim[#claim + 1] = 'JUSTID'
  redis.call(unpack(claim))
  moved = moved + #pending
end
return moved
";

/// Entries moved per step of the script.
const BATCH: u32 = 1000;

impl Worker {
    /// Hands the entries a predecessor of this worker's name left pending,
    /// in `own` and every other known task stream, to the drivers (see the
    /// module), and says so when there were any.
    pub(super) fn hand_over_predecessors_tasks(
        &self,
        control: &mut Control,
        own: &[String],
    ) -> Result<(), ClusterError> {
        let name = &self.config.name;
        let moved = hand_over(control, name, own)?;
        if moved > 0 {
            tracing::warn!(
                "{moved} task(s) a previous worker named {name} held are handed back to their \
                 jobs' drivers"
            );
        }
        Ok(())
    }
}

/// Moves every entry pending under consumer `name` in `own` and in every
/// stream of [`keys::QUEUES`] to [`keys::predecessor`]`(name)`; returns how
/// many moved.
fn hand_over(control: &mut Control, name: &str, own: &[String]) -> Result<u64, ClusterError> {
    let known: Vec<String> = control.run("SMEMBERS queues", Duration::ZERO, |c| {
        redis::cmd("SMEMBERS").arg(keys::QUEUES).query(c)
    })?;
    let streams: BTreeSet<&String> = known.iter().chain(own).collect();
    let heir = keys::predecessor(name);
    let script = Script::new(HAND_OVER);
    let mut moved = 0;
    for stream in streams {
        moved += control.run("hand over pending tasks", Duration::ZERO, |c| {
            script
                .key(stream)
                .arg(keys::GROUP)
                .arg(name)
                .arg(&heir)
                .arg(BATCH)
                .invoke::<u64>(c)
        })?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use shoal_testkit::RedisServer;

    use super::*;
    use crate::worker::test_streams::{connect, deliver, pending_entries};

    /// How many entries are pending in `stream` under `consumer`.
    fn pending(control: &mut Control, stream: &str, consumer: &str) -> usize {
        pending_entries(control, stream, 10_000, Some(consumer)).len()
    }

    #[test]
    fn every_entry_pending_under_the_name_goes_to_its_predecessor_and_nothing_else_moves() {
        let redis = RedisServer::start();
        let mut control = connect(&redis);
        let (served, other) = (keys::tasks("a@1"), keys::tasks("b@1"));
        // More than one step of the script in the stream the worker runs; a
        // stream of a job it no longer has; another worker's entries.
        deliver(&mut control, &served, "w", BATCH as usize + 5);
        deliver(&mut control, &other, "w", 3);
        deliver(&mut control, &served, "v", 2);

        let moved = hand_over(&mut control, "w", std::slice::from_ref(&served)).unwrap();
        assert_eq!(moved, BATCH as u64 + 8);
        let heir = keys::predecessor("w");
        assert_eq!(pending(&mut control, &served, "w"), 0);
        assert_eq!(pending(&mut control, &other, "w"), 0);
        assert_eq!(pending(&mut control, &served, &heir), BATCH as usize + 5);
        assert_eq!(pending(&mut control, &other, &heir), 3);
        assert_eq!(pending(&mut control, &served, "v"), 2);
        assert_eq!(keys::restarted_worker(&heir), Some("w"));
        // A stream Redis lost the group of, and a second start: nothing to move.
        assert_eq!(
            hand_over(&mut control, "w", &[keys::tasks("gone@1")]).unwrap(),
            0
        );
    }
}
