//! The last safety net against a job that waits forever: a task whose
//! entries are all gone from the task stream — neither waiting there nor
//! held by a worker — and that never reported, was lost without a trace
//! (an entry deleted behind the driver's back, a write the control plane
//! lost). Every other loss has its own path (lost workers, restarts,
//! failovers, skip reports); this one only looks for what they missed.
//!
//! A worker acknowledges and deletes an entry in the same pipeline that,
//! before those commands, appends its report, so an entry that is gone has
//! its report already queued. A partition found without entries is first
//! only suspected; it is run again if it is still unfinished at the next
//! check, after the reports in between have been read.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use shoal_core::{ProgressEvent, TaskError};

use super::{Drive, StageTracker};
use crate::ClusterError;

/// Most partitions whose entries one check looks up.
const CHECKED_PER_ROUND: usize = 4096;

impl Drive<'_> {
    /// Once per worker timeout: suspects unfinished partitions submitted at
    /// least a worker timeout ago that have no entry left, and runs again
    /// those suspected at the previous check too.
    pub(super) fn rescue_vanished(
        &mut self,
        stage: u32,
        tracker: &mut StageTracker,
    ) -> Result<(), ClusterError> {
        let period = self.config.worker_timeout;
        if tracker.last_vanish_check.elapsed() < period {
            return Ok(());
        }
        tracker.last_vanish_check = Instant::now();
        let mut overdue: Vec<u32> = (0..tracker.done.len() as u32)
            .filter(|&p| {
                !tracker.done[p as usize] && tracker.submitted_at[p as usize].elapsed() >= period
            })
            .collect();
        // A long queue is looked at oldest first, a bounded slice per check.
        overdue.sort_by_key(|&p| tracker.submitted_at[p as usize]);
        overdue.truncate(CHECKED_PER_ROUND);
        let overdue: HashSet<u32> = overdue.into_iter().collect();
        let vanished = self.without_entries(&overdue, tracker)?;
        let rescue: Vec<u32> = vanished
            .iter()
            .copied()
            .filter(|p| tracker.suspected.contains(p))
            .collect();
        tracker.suspected = vanished;
        if rescue.is_empty() {
            return Ok(());
        }
        for &p in &rescue {
            tracker.suspected.remove(&p);
            self.progress.event(&ProgressEvent::TaskFailed {
                stage,
                partition: p,
                attempt: tracker.attempt[p as usize],
                error: &TaskError::new(
                    "the task left the queue without a report; running it again",
                ),
                will_retry: true,
            });
        }
        self.resubmit(stage, &rescue, tracker)
    }

    /// Those of `partitions` none of whose entries is in the task stream.
    fn without_entries(
        &mut self,
        partitions: &HashSet<u32>,
        tracker: &StageTracker,
    ) -> Result<HashSet<u32>, ClusterError> {
        let entries: Vec<(&String, u32)> = tracker
            .entries
            .iter()
            .filter(|(_, p)| partitions.contains(p))
            .map(|(id, &p)| (id, p))
            .collect();
        let mut missing = partitions.clone();
        let stream = &self.tasks;
        for chunk in entries.chunks(1000) {
            let found: Vec<redis::Value> =
                self.control.run("XRANGE tasks", Duration::ZERO, |c| {
                    let mut pipe = redis::pipe();
                    for (id, _) in chunk {
                        pipe.cmd("XRANGE").arg(stream).arg(*id).arg(*id);
                    }
                    pipe.query(c)
                })?;
            for ((_, p), reply) in chunk.iter().zip(found) {
                if matches!(reply, redis::Value::Array(ref items) if !items.is_empty()) {
                    missing.remove(p);
                }
            }
        }
        Ok(missing)
    }
}
