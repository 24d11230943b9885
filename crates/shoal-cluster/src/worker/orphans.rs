//! Entries pending under this worker's name that it does not hold.
//!
//! A claim delivers entries once: Redis puts them in this consumer's
//! pending list as it replies. If the reply is lost — the connection
//! drops, or the process was stopped (SIGSTOP) inside the read and wakes
//! with EINTR — `Control` reconnects and claims again, and the retry reads
//! only new entries (`>`). The delivered ones would stay pending under a
//! live worker that never runs them: no driver reclaims them (the
//! worker's registration never lapses), and a one-task stage waits for
//! good (chaos finding 3). Reports given up on after a long outage leave
//! the same kind of entry behind.
//!
//! So the worker keeps the ids of the entries it holds — from claim until
//! their report is acknowledged — and, after any interrupted claim and
//! every [`AUDIT_PERIOD`] besides, lists its pending entries (`XPENDING`,
//! which leaves their idle time alone, the drivers' measure of how long a
//! task runs) and takes back those it does not hold with `XCLAIM` to
//! itself, which returns them and restarts their idle time, and runs them.
//! An id is released only once its acknowledgement is done, so an entry
//! whose report is on its way is never taken for an orphan; running one
//! twice would be harmless anyway (first commit wins).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value;

use super::claim::Claimer;
use super::Worker;
use crate::control::Control;
use crate::keys;
use crate::reply::{pending_ids, range_entries, StreamEntries};
use crate::ClusterError;

/// How often a worker looks for orphans when no claim was interrupted.
pub(super) const AUDIT_PERIOD: Duration = Duration::from_secs(5);
/// Most pending entries listed per stream in one audit (a worker holds at
/// most a few hundred per job; more are found by the next audit).
const AUDIT_LIMIT: usize = 10_000;

/// The task entries this worker holds: claimed, and not yet acknowledged.
#[derive(Default)]
pub(super) struct Holdings(Mutex<HashSet<(Arc<str>, String)>>);

impl Holdings {
    /// Notes that this worker holds entry `id` of `stream`.
    pub(super) fn hold(&self, stream: &Arc<str>, id: &str) {
        self.lock().insert((stream.clone(), id.to_string()));
    }

    /// Forgets entries whose reports were acknowledged (or given up on);
    /// taken by value, so that looking them up copies nothing.
    pub(super) fn release(&self, entries: impl IntoIterator<Item = (Arc<str>, String)>) {
        let mut held = self.lock();
        for entry in entries {
            held.remove(&entry);
        }
    }

    fn snapshot(&self) -> HashSet<(Arc<str>, String)> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(Arc<str>, String)>> {
        // A panic elsewhere cannot leave the set half-changed.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Worker {
    /// Takes back the entries pending under this worker's name in its task
    /// streams that it does not hold (see the module), and returns them to
    /// be run like claimed ones. Must run on the thread that claims, so no
    /// claim lands between the snapshot and the listing.
    pub(super) fn reclaim_orphans(
        &self,
        control: &mut Control,
        claimer: &Claimer,
    ) -> Result<Vec<StreamEntries>, ClusterError> {
        let streams = claimer.streams();
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        // Before listing: an id released after this was acknowledged before
        // the listing, so it cannot be listed.
        let held = self.holdings.snapshot();
        let name = &self.config.name;
        let pending: Vec<Value> = control.run("XPENDING own", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for stream in streams {
                pipe.cmd("XPENDING")
                    .arg(stream)
                    .arg(keys::GROUP)
                    .arg("-")
                    .arg("+")
                    .arg(AUDIT_LIMIT)
                    .arg(name);
            }
            pipe.query(c)
        })?;
        let orphans: Vec<(&String, Vec<String>)> = streams
            .iter()
            .zip(&pending)
            .map(|(stream, reply)| {
                let ids = pending_ids(reply)
                    .into_iter()
                    .filter(|id| !held.contains(&(Arc::from(stream.as_str()), id.clone())))
                    .collect::<Vec<_>>();
                (stream, ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        if orphans.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<Value> = control.run("XCLAIM own", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for (stream, ids) in &orphans {
                pipe.cmd("XCLAIM")
                    .arg(*stream)
                    .arg(keys::GROUP)
                    .arg(name)
                    .arg(0)
                    .arg(ids);
            }
            pipe.query(c)
        })?;
        let mut batches = Vec::new();
        for ((stream, _), reply) in orphans.iter().zip(&claimed) {
            // An entry deleted meanwhile may come back as nil: nothing to run.
            let live = match reply {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .filter(|v| !matches!(v, Value::Nil))
                        .cloned()
                        .collect(),
                ),
                other => other.clone(),
            };
            let entries = range_entries("XCLAIM own", live)?;
            if entries.is_empty() {
                continue;
            }
            tracing::warn!(
                "{} task(s) pending under this worker's name in {stream} were not running \
                 (a claim's reply was lost, or a report given up on): running them now",
                entries.len()
            );
            batches.push(StreamEntries {
                key: stream.to_string(),
                entries,
            });
        }
        Ok(batches)
    }
}

#[cfg(test)]
mod tests {
    use shoal_core::Registry;
    use shoal_testkit::RedisServer;

    use super::*;
    use crate::worker::test_streams::{connect, deliver, pending_entries};
    use crate::worker::WorkerConfig;

    #[test]
    fn entries_pending_under_the_worker_and_not_held_are_taken_back_and_held_ones_left_alone() {
        let redis = RedisServer::start();
        let store = tempfile::tempdir().unwrap();
        let worker = Worker::new(
            WorkerConfig {
                coord_url: redis.url(),
                store_url: store.path().display().to_string(),
                name: "w".into(),
                slots: 1,
                heartbeat_ttl: Duration::from_secs(3),
            },
            Registry::new(),
        )
        .unwrap();
        let mut control = connect(&redis);
        let stream = keys::tasks("a@1");
        let claimer = Claimer::new(&["a@1".to_string()]);
        // Three delivered to w, one to another worker; w holds the first only
        // (the replies of the other two were lost).
        let ids = deliver(&mut control, &stream, "w", 3);
        deliver(&mut control, &stream, "v", 1);
        let shared: Arc<str> = stream.as_str().into();
        worker.holdings.hold(&shared, &ids[0]);

        let found = worker.reclaim_orphans(&mut control, &claimer).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, stream);
        let orphans: Vec<&str> = found[0].entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(orphans, [ids[1].as_str(), ids[2].as_str()]);
        assert_eq!(
            found[0].entries[0].fields,
            [("i".to_string(), b"1".to_vec())]
        );
        // The held entry and the other worker's were not delivered again
        // (their idle time, a running task's age, is untouched).
        let counts = pending_entries(&mut control, &stream, 100, None);
        assert_eq!(
            counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [1, 2, 2, 1]
        );

        // Once they are held, and after a report released the first one
        // (acknowledged: no longer pending), nothing is an orphan.
        worker.holdings.hold(&shared, &ids[1]);
        worker.holdings.hold(&shared, &ids[2]);
        control
            .run("XACK", Duration::ZERO, |c| {
                redis::cmd("XACK")
                    .arg(&stream)
                    .arg(keys::GROUP)
                    .arg(&ids[0])
                    .query::<u64>(c)
            })
            .unwrap();
        worker.holdings.release([(shared.clone(), ids[0].clone())]);
        assert!(worker
            .reclaim_orphans(&mut control, &claimer)
            .unwrap()
            .is_empty());
    }
}
