//! The fetch loop: claim task entries for the slots (`claim.rs` says from
//! which streams, and how).
//!
//! Claims are sized by how long tasks take here ([`Pace`]). Long tasks
//! are claimed one per free slot, so a busy worker never sits on work an
//! idle one could run. Tiny tasks are claimed ahead in batches, enough to
//! keep the slots busy for [`CLAIM_HORIZON`], because one round trip per
//! task would cost more than the tasks themselves. Claimed entries stay in
//! this worker's pending list until reported, so if it dies they are
//! reclaimed like running ones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::claim::Claimer;
use super::orphans::AUDIT_PERIOD;
use super::task::Assignment;
use super::Worker;
use crate::control::Control;
use crate::protocol::{DecodeError, TaskEntry};
use crate::reply::StreamEntries;
use crate::ClusterError;

/// How much work a worker claims ahead of its free slots, in task time.
const CLAIM_HORIZON: Duration = Duration::from_millis(20);
/// Most task entries held ahead of the free slots (per job with work queued:
/// see claim.rs).
const MAX_AHEAD: u64 = 512;

/// A moving average of how long this worker's tasks take.
#[derive(Default)]
pub(super) struct Pace {
    /// Exponentially weighted mean task time in nanoseconds; 0 = unknown.
    mean_ns: AtomicU64,
}

impl Pace {
    /// Folds one task's wall time into the average.
    pub(super) fn record(&self, took: Duration) {
        let took = (took.as_nanos() as u64).max(1);
        let _ = self
            .mean_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mean| {
                Some(if mean == 0 {
                    took
                } else {
                    // Weight 1/8: follows a change of job within a few dozen tasks.
                    mean - mean / 8 + took / 8
                })
            });
    }

    /// How many entries to hold beyond one per slot.
    pub(super) fn claim_ahead(&self, slots: usize) -> usize {
        let mean = self.mean_ns.load(Ordering::Relaxed);
        if mean == 0 {
            return 0;
        }
        let ahead = slots as u64 * CLAIM_HORIZON.as_nanos() as u64 / mean;
        ahead.min(MAX_AHEAD) as usize
    }
}

impl Worker {
    pub(super) fn fetch_loop(
        &self,
        control: &mut Control,
        claimer: &mut Claimer,
        tasks: Sender<Assignment>,
        freed: Receiver<()>,
    ) {
        let mut next_audit = Instant::now() + AUDIT_PERIOD;
        let mut audit_now = false;
        while !self.stop.load(Ordering::Relaxed) {
            let ahead = self.pace.claim_ahead(self.config.slots);
            let capacity = self.config.slots + ahead;
            // Claim when at least a slot's worth is free, or in batches of a
            // quarter of the horizon, never one entry at a time for tiny tasks.
            let claim_at = capacity - (capacity / 4).max(1);
            if self.held.load(Ordering::SeqCst) > claim_at {
                // Slots wake this loop only once no more than `claim_at` are
                // held, not at every task's end (a wake-up per tiny task cost
                // more than the task). Published before looking again, so a
                // slot that frees the place meanwhile sees it (task.rs).
                self.wake_at.store(claim_at, Ordering::SeqCst);
                if self.held.load(Ordering::SeqCst) > claim_at {
                    // Bounded so the stop flag is still seen promptly.
                    let _ = freed.recv_timeout(Duration::from_millis(100));
                }
                continue;
            }
            let free = capacity - self.held.load(Ordering::SeqCst).min(capacity);
            if Instant::now() >= next_audit || audit_now {
                let orphans = self.reclaim_orphans(control, claimer);
                audit_now = orphans.is_err();
                next_audit = Instant::now() + AUDIT_PERIOD;
                match orphans {
                    Ok(batches) => {
                        if !self.hand_to_slots(control, batches, &tasks) {
                            return;
                        }
                    }
                    Err(err) => tracing::warn!("{err}; looking again"),
                }
            }
            let name = &self.config.name;
            // Exact claims while tasks are long or of unknown length (see claim.rs).
            let exact = ahead == 0;
            let interruptions = control.interruptions();
            let claimed = claimer.claim(control, name, free, exact);
            // A claim retried or given up on may have delivered entries whose
            // reply was lost: look for them before claiming again (orphans.rs).
            if control.interruptions() != interruptions {
                audit_now = true;
            }
            let batches = match claimed {
                Ok(batches) => batches,
                Err(err) if err.is_no_group() => {
                    // Redis lost the groups (a restart without persistence).
                    let _ = self.ensure_groups(control, claimer);
                    continue;
                }
                Err(err) => {
                    tracing::warn!("{err}; retrying");
                    continue;
                }
            };
            if !self.hand_to_slots(control, batches, &tasks) {
                return;
            }
        }
    }

    /// Passes claimed entries on to the slots, holding each; false once the
    /// slots are gone (the worker is stopping).
    fn hand_to_slots(
        &self,
        control: &mut Control,
        batches: Vec<StreamEntries>,
        tasks: &Sender<Assignment>,
    ) -> bool {
        for batch in batches {
            self.count_claims(&batch.key, batch.entries.len());
            let stream: Arc<str> = batch.key.into();
            for entry in batch.entries {
                let task = match TaskEntry::decode(&stream, &entry) {
                    Ok(task) => task,
                    Err(err) => {
                        self.drop_entry(control, &stream, &entry.id, &err);
                        continue;
                    }
                };
                self.holdings.hold(&stream, &entry.id);
                let assignment = Assignment {
                    stream: stream.clone(),
                    entry_id: entry.id,
                    task,
                };
                self.held.fetch_add(1, Ordering::Relaxed);
                if tasks.send(assignment).is_err() {
                    return false;
                }
            }
        }
        true
    }

    /// Creates the consumer group of every stream this worker reads.
    pub(super) fn ensure_groups(
        &self,
        control: &mut Control,
        claimer: &Claimer,
    ) -> Result<(), ClusterError> {
        for stream in claimer.streams() {
            control.ensure_group(stream)?;
        }
        Ok(())
    }

    /// An entry no worker can read would be claimed and dropped forever:
    /// say so once, and take it off the stream.
    fn drop_entry(&self, control: &mut Control, stream: &str, id: &str, err: &DecodeError) {
        tracing::warn!("dropping {err}");
        if let Err(err) = crate::sweep::retire_entries(control, stream, &[id]) {
            tracing::warn!("{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(tasks: usize, took: Duration, pace: Pace) -> Pace {
        for _ in 0..tasks {
            pace.record(took);
        }
        pace
    }

    #[test]
    fn long_tasks_are_claimed_one_per_slot() {
        assert_eq!(
            Pace::default().claim_ahead(4),
            0,
            "unknown pace: none ahead"
        );
        let pace = after(50, Duration::from_secs(1), Pace::default());
        assert_eq!(pace.claim_ahead(4), 0);
    }

    #[test]
    fn tiny_tasks_are_claimed_ahead_up_to_the_cap() {
        let pace = after(50, Duration::from_micros(5), Pace::default());
        assert_eq!(pace.claim_ahead(2), MAX_AHEAD as usize);
        let pace = after(1, Duration::from_millis(5), Pace::default());
        // 2 slots × 20 ms horizon / 5 ms per task.
        assert_eq!(pace.claim_ahead(2), 8);
    }

    #[test]
    fn the_average_follows_a_change_of_pace() {
        let tiny = after(50, Duration::from_micros(5), Pace::default());
        let pace = after(60, Duration::from_secs(1), tiny);
        assert_eq!(pace.claim_ahead(2), 0);
    }
}
