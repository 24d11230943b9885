//! The driver's periodic duties while a stage runs: publish progress,
//! notice cancellation and Redis restarts, make sure some live worker runs
//! the job (`capable.rs`), reclaim tasks from workers that stopped
//! heartbeating, rescue tasks that vanished (`vanished.rs`), and
//! speculate on stragglers.

use std::collections::HashSet;
use std::time::Duration;

use shoal_core::retry::TaskAttempts;
use shoal_core::{JobError, ProgressEvent, TaskError};

use super::{Drive, Failure, StageTracker};
use crate::reply::{pending_consumers, pending_ids};
use crate::{keys, ClusterError};

impl Drive<'_> {
    pub(super) fn set_stage_progress(
        &mut self,
        stage: u32,
        tracker: &StageTracker,
    ) -> Result<(), ClusterError> {
        let id = &self.run.id;
        let name = self.run.plan.stages()[stage as usize].name().to_string();
        let total = tracker.done.len();
        let done = total - tracker.remaining as usize;
        let failures: usize = tracker.failures.iter().map(TaskAttempts::failures).sum();
        // The record rides along: no round trip of its own.
        let mut pipe = redis::pipe();
        self.record.flush(&mut pipe, id, None);
        pipe.cmd("HSET")
            .arg(keys::job(id))
            .arg("stage")
            .arg(stage)
            .arg("stage_name")
            .arg(&name)
            .arg("done")
            .arg(done)
            .arg("total")
            .arg(total)
            .arg("failures")
            .arg(failures)
            .ignore();
        self.add_renewal(&mut pipe);
        self.run_renewing("job progress", &pipe)
    }

    /// Twice a second: liveness, cancellation, restarts, lost workers, stragglers.
    pub(super) fn upkeep(&mut self, stage: u32, tracker: &mut StageTracker) -> Result<(), Failure> {
        self.set_stage_progress(stage, tracker)?;
        self.trim_events()?;
        let state: Option<String> = self.control.run("job state", Duration::ZERO, |c| {
            redis::cmd("HGET")
                .arg(keys::job(&self.run.id))
                .arg("state")
                .query(c)
        })?;
        let cancelled_here = self
            .config
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        if cancelled_here || state.as_deref() == Some("cancelled") {
            return Err(Failure::Job(JobError::Cancelled {
                job_id: self.run.id.clone(),
            }));
        }
        self.check_not_ended(state.as_deref())?;
        let run_id = self.control.run_id()?;
        let lost = if run_id != self.run_id || state.is_none() {
            Some("restarted")
        } else if state.as_deref() == Some(crate::status::ABANDONED) {
            // We were cut off long enough for `shoal status` to give up on
            // us; we are back, so take the job up again.
            Some("lost this job's liveness key")
        } else {
            None
        };
        if let Some(what) = lost {
            self.recover_restart(stage, tracker, what)?;
            self.run_id = run_id;
            return Ok(());
        }
        self.check_capable()?;
        self.reclaim_from_lost_workers(stage, tracker)?;
        self.rescue_vanished(stage, tracker)?;
        if self.config.speculation {
            self.speculate(stage, tracker)?;
        }
        Ok(())
    }

    /// Drops the event entries already read, so a job of many tasks does not
    /// keep one entry per task in Redis until it ends.
    fn trim_events(&mut self) -> Result<(), ClusterError> {
        let (key, read) = (&self.events, &self.events_from);
        self.control.run("XTRIM events", Duration::ZERO, |c| {
            redis::cmd("XTRIM")
                .arg(key)
                .arg("MINID")
                .arg(read)
                .query::<()>(c)
        })
    }

    /// Redis restarted (and may have lost every key), or the job was
    /// marked abandoned while we were cut off: publish the job again and
    /// resubmit every unfinished partition. Committed outputs live in the
    /// store and inline results in our memory, so finished work is kept.
    fn recover_restart(
        &mut self,
        stage: u32,
        tracker: &mut StageTracker,
        what: &str,
    ) -> Result<(), ClusterError> {
        self.progress.event(&ProgressEvent::TaskFailed {
            stage,
            partition: 0,
            attempt: 0,
            error: &TaskError::new(format!(
                "control plane {} {what}; resubmitting unfinished tasks",
                self.control.server()
            )),
            will_retry: true,
        });
        let tasks = self.tasks.clone();
        self.control.ensure_group(&tasks)?;
        self.publish_job()?;
        self.events_from = "0-0".into();
        // The workers' registrations went with the old server (a restart,
        // a failover): they get a full wait to register again before the
        // job counts as having no live worker that runs it.
        self.capable_seen = std::time::Instant::now();
        let unfinished: Vec<u32> = (0..tracker.done.len() as u32)
            .filter(|&p| !tracker.done[p as usize])
            .collect();
        self.resubmit(stage, &unfinished, tracker)
    }

    /// Tasks held by workers whose heartbeat key expired, or by the
    /// predecessor of a restarted worker (`worker/handover.rs`), run again.
    fn reclaim_from_lost_workers(
        &mut self,
        stage: u32,
        tracker: &mut StageTracker,
    ) -> Result<(), ClusterError> {
        let stream = &self.tasks;
        let summary: redis::Value = self.control.run("XPENDING", Duration::ZERO, |c| {
            redis::cmd("XPENDING").arg(stream).arg(keys::GROUP).query(c)
        })?;
        for (consumer, _) in pending_consumers(&summary) {
            let alive: bool = self.control.run("EXISTS worker", Duration::ZERO, |c| {
                redis::cmd("EXISTS").arg(keys::worker(&consumer)).query(c)
            })?;
            if alive {
                continue;
            }
            let pending: redis::Value =
                self.control.run("XPENDING consumer", Duration::ZERO, |c| {
                    redis::cmd("XPENDING")
                        .arg(&self.tasks)
                        .arg(keys::GROUP)
                        .arg("-")
                        .arg("+")
                        .arg(10_000)
                        .arg(&consumer)
                        .query(c)
                })?;
            let mut ours = Vec::new();
            let mut acked = Vec::new();
            let mut foreign = Vec::new();
            for id in pending_ids(&pending) {
                match tracker.entries.get(&id) {
                    Some(&p) => {
                        acked.push(id);
                        if !tracker.done[p as usize] && !ours.contains(&p) {
                            ours.push(p);
                        }
                    }
                    None => foreign.push(id),
                }
            }
            crate::sweep::clear_dead_entries(&mut self.control, &self.tasks, &foreign)?;
            if acked.is_empty() {
                continue;
            }
            crate::sweep::retire_entries(&mut self.control, &self.tasks, &acked)?;
            let why = match keys::restarted_worker(&consumer) {
                Some(worker) => format!("worker {worker} was restarted while it held the task"),
                None => format!("worker {consumer} stopped heartbeating"),
            };
            for p in &ours {
                self.progress.event(&ProgressEvent::TaskFailed {
                    stage,
                    partition: *p,
                    attempt: tracker.attempt[*p as usize],
                    error: &TaskError::new(why.clone()),
                    will_retry: true,
                });
            }
            self.resubmit(stage, &ours, tracker)?;
        }
        Ok(())
    }

    /// Once most of a stage is done, a task *running* far longer than the
    /// median gets one more attempt; the first commit wins.
    ///
    /// Running, not outstanding: a task that waited in the queue for a
    /// slot is not slow, and a copy of it would only queue behind it.
    /// Nothing but Redis knows when a worker took an entry up — it is the
    /// idle time of the entry in the group's pending list — so the
    /// pending list is read, but only when some task has been outstanding
    /// long enough to be a straggler at all (it runs no longer than it has
    /// been submitted), which on a stage going well is never.
    fn speculate(&mut self, stage: u32, tracker: &mut StageTracker) -> Result<(), ClusterError> {
        let total = tracker.done.len();
        if total < 2 || (tracker.remaining as usize) * 4 > total {
            return Ok(());
        }
        let mut durations = tracker.durations_ms.clone();
        durations.sort_unstable();
        let median = Duration::from_millis(durations[durations.len() / 2]);
        let threshold = (median * 4).max(Duration::from_secs(2));
        let outstanding: Vec<u32> = (0..total as u32)
            .filter(|&p| {
                let i = p as usize;
                !tracker.done[i]
                    && !tracker.speculated[i]
                    && tracker.submitted_at[i].elapsed() > threshold
            })
            .collect();
        if outstanding.is_empty() {
            return Ok(());
        }
        let running = self.running_longer_than(threshold, tracker)?;
        let stragglers: Vec<u32> = outstanding
            .into_iter()
            .filter(|p| running.contains(p))
            .collect();
        for &p in &stragglers {
            tracker.speculated[p as usize] = true;
        }
        if stragglers.is_empty() {
            return Ok(());
        }
        self.resubmit(stage, &stragglers, tracker)
    }

    /// Partitions of this stage with an entry a worker has held for at
    /// least `threshold` (`XPENDING … IDLE`: idle time counts from delivery).
    fn running_longer_than(
        &mut self,
        threshold: Duration,
        tracker: &StageTracker,
    ) -> Result<HashSet<u32>, ClusterError> {
        let stream = &self.tasks;
        let pending: redis::Value = self.control.run("XPENDING idle", Duration::ZERO, |c| {
            redis::cmd("XPENDING")
                .arg(stream)
                .arg(keys::GROUP)
                .arg("IDLE")
                .arg(threshold.as_millis() as u64)
                .arg("-")
                .arg("+")
                .arg(10_000)
                .query(c)
        })?;
        Ok(pending_ids(&pending)
            .iter()
            .filter_map(|id| tracker.entries.get(id).copied())
            .collect())
    }
}
