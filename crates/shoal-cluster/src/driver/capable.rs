//! Whether any live worker can run this job at all.
//!
//! Tasks go to the stream of the job's fingerprint, which only workers
//! holding the job read. If none is alive, the tasks would wait forever:
//! so in every upkeep the driver looks at the live workers' offers, and
//! once no live worker has offered the job for `wait_for_workers` (by
//! default the worker timeout) — counted from the job's start, or from
//! when the last one that did stopped heartbeating — the job fails with an
//! error naming the job and every live worker with what it runs. Until
//! then its tasks stay queued, and a worker that joins picks them up.

use super::Drive;
use crate::error::WorkerOffer;
use crate::registrations::live_workers;
use crate::ClusterError;

impl Drive<'_> {
    /// Fails when no live worker has offered the job for too long.
    pub(super) fn check_capable(&mut self) -> Result<(), ClusterError> {
        let workers = live_workers(&mut self.control)?;
        if workers.iter().any(|w| w.offers(&self.fingerprint)) {
            self.capable_seen = std::time::Instant::now();
            return Ok(());
        }
        let patience = self
            .config
            .wait_for_workers
            .unwrap_or(self.config.worker_timeout);
        if self.capable_seen.elapsed() < patience {
            return Ok(());
        }
        Err(ClusterError::NoCapableWorkers {
            job: self.fingerprint.clone(),
            server: self.control.server().to_string(),
            after: self.capable_seen.elapsed(),
            workers: workers
                .into_iter()
                .map(|w| WorkerOffer {
                    worker: w.name,
                    jobs: w.info.and_then(Result::ok).map(|info| info.jobs),
                })
                .collect(),
        })
    }
}
