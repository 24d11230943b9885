//! Stopping running attempts nobody wants any more.
//!
//! A worker looks at a job's liveness before it starts a task and before
//! it commits one; a long task in between — a `shoal map` program, say —
//! would otherwise run on after its job was cancelled, after the worker
//! was told to stop, or after the worker lost its registration (its
//! driver has run the task elsewhere by then). The watcher sets such an
//! attempt's cancel flag ([`shoal_core::TaskContext::is_cancelled`]);
//! tasks that run programs kill them at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::task::LoadedJob;
use super::Worker;
use crate::clock::now_ms;

/// How often running attempts are looked at.
const PERIOD: Duration = Duration::from_millis(250);

/// One running attempt.
struct Watched {
    job_id: String,
    job: Arc<LoadedJob>,
    cancel: Arc<AtomicBool>,
}

/// The attempts running on this worker.
#[derive(Default)]
pub(super) struct Running {
    attempts: Mutex<HashMap<u64, Watched>>,
    next: AtomicU64,
}

/// Unregisters its attempt when dropped.
pub(super) struct WatchGuard<'a> {
    running: &'a Running,
    key: u64,
}

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        self.running
            .attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl Running {
    /// Watches an attempt of `job` until the guard is dropped; `cancel`
    /// is set when the attempt should stop.
    pub(super) fn watch(
        &self,
        job_id: &str,
        job: Arc<LoadedJob>,
        cancel: Arc<AtomicBool>,
    ) -> WatchGuard<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key,
                Watched {
                    job_id: job_id.to_string(),
                    job,
                    cancel,
                },
            );
        WatchGuard { running: self, key }
    }
}

impl Worker {
    /// Until `done`: cancels running attempts when the worker stops, when
    /// its registration has lapsed (no heartbeat confirmed for its TTL),
    /// or when their job is no longer running.
    pub(super) fn watch_loop(&self, done: &AtomicBool) {
        let Ok(mut control) = self.control() else {
            return;
        };
        let ttl_ms = self.config.heartbeat_ttl.as_millis() as u64;
        while !done.load(Ordering::Relaxed) {
            let watched: Vec<(String, Arc<LoadedJob>, Arc<AtomicBool>)> = self
                .running_attempts
                .attempts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .filter(|w| !w.cancel.load(Ordering::Relaxed))
                .map(|w| (w.job_id.clone(), w.job.clone(), w.cancel.clone()))
                .collect();
            if !watched.is_empty() {
                let everything = self.stop.load(Ordering::Relaxed)
                    || now_ms().saturating_sub(self.last_beat_ms.load(Ordering::Relaxed)) > ttl_ms;
                for (job_id, job, cancel) in watched {
                    if everything || !job.is_alive(&mut control, &job_id, self.config.heartbeat_ttl)
                    {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            std::thread::sleep(PERIOD);
        }
    }
}
