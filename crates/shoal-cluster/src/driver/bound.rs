//! The driver's side of giving a job up (see `abandoned.rs`): it renews
//! its job's liveness only within its bound (its outage timeout, on its
//! monotonic clock), takes the job back only if no sweep ended it, and at
//! the end deletes the job's objects or leaves them to the workers' sweep.

use std::time::{Duration, Instant};

use shoal_store::Store;

use super::Drive;
use crate::abandoned::{self, CLAIM, SINCE_FIELD};
use crate::{keys, ClusterError};

impl Drive<'_> {
    /// Fails once the last renewal of the job's liveness is older than the
    /// bound: past it a sweep may have given the job up and deleted its
    /// objects, so the job must not go on.
    pub(super) fn check_bound(&self) -> Result<(), ClusterError> {
        let silent = self.renewed_at.elapsed();
        let bound = self.config.outage_timeout;
        if silent <= bound {
            return Ok(());
        }
        Err(ClusterError::GivenUp {
            job_id: self.run.id.clone(),
            reason: format!(
                "its driver could not renew the job's liveness for {:.1} s, longer than its \
                 outage timeout ({:.1} s); the workers sweep its objects",
                silent.as_secs_f64(),
                bound.as_secs_f64()
            ),
        })
    }

    /// Adds the renewal of the job's liveness to `pipe`.
    pub(super) fn add_renewal(&self, pipe: &mut redis::Pipeline) {
        let id = &self.run.id;
        pipe.cmd("SET")
            .arg(keys::job_alive(id))
            .arg(1)
            .arg("PX")
            .arg(self.liveness_ttl_ms())
            .ignore()
            .cmd("HDEL")
            .arg(keys::job(id))
            .arg(SINCE_FIELD)
            .ignore();
    }

    /// Runs `pipe`, which renews the job's liveness, if still within the
    /// bound; remembers when it was sent.
    pub(super) fn run_renewing(
        &mut self,
        op: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<(), ClusterError> {
        self.check_bound()?;
        let sent = Instant::now();
        self.control
            .run(op, Duration::ZERO, |c| pipe.query::<()>(c))?;
        self.renewed_at = sent;
        Ok(())
    }

    /// Marks the job running with its liveness renewed, unless it already
    /// ended (a sweep gave it up while we were cut off or stopped).
    pub(super) fn claim(&mut self) -> Result<(), ClusterError> {
        self.check_bound()?;
        let id = &self.run.id;
        let ttl = self.liveness_ttl_ms();
        let sent = Instant::now();
        let refused: Option<String> = self.control.run("claim job", Duration::ZERO, |c| {
            CLAIM
                .key(keys::job(id))
                .key(keys::job_alive(id))
                .arg(ttl)
                .invoke(c)
        })?;
        if let Some(reason) = refused {
            return Err(ClusterError::GivenUp {
                job_id: id.clone(),
                reason,
            });
        }
        self.renewed_at = sent;
        Ok(())
    }

    /// A job found succeeded or failed while we drive it was ended by a
    /// sweep (we write those states only as we stop): stop too.
    pub(super) fn check_not_ended(&mut self, state: Option<&str>) -> Result<(), ClusterError> {
        let Some(state) = state.filter(|s| matches!(*s, "succeeded" | "failed")) else {
            return Ok(());
        };
        let id = &self.run.id;
        let error: Option<String> = self.control.run("job error", Duration::ZERO, |c| {
            redis::cmd("HGET").arg(keys::job(id)).arg("error").query(c)
        })?;
        Err(ClusterError::GivenUp {
            job_id: id.clone(),
            reason: error.filter(|e| !e.is_empty()).unwrap_or(state.to_string()),
        })
    }

    /// Deletes the ended job's objects (intermediate and results: read by
    /// now). When the store fails, the workers' sweep deletes them later.
    pub(super) fn clean_up(&mut self, store: &Store) {
        if store.delete_prefix(&keys::job_prefix(&self.run.id)).is_ok() {
            let _ = abandoned::forget(&mut self.control, &self.run.id);
        }
    }

    /// How long the job's liveness key lives after a renewal.
    pub(super) fn liveness_ttl_ms(&self) -> u64 {
        self.config.worker_timeout.as_millis() as u64
    }
}
