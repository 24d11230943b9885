//! The reporter: outcomes of finished tasks go back to Redis in batches.
//!
//! One pipeline per batch: an XADD per report to its job's event stream,
//! then one XACK and one XDEL for every entry of the batch, so the task
//! stream holds only work still waiting or running.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::task::Finished;
use super::Worker;
use crate::control::Control;
use crate::{keys, ClusterError};

/// Most reports sent in one pipeline.
const BATCH: usize = 512;
/// How long a batch is retried through a Redis outage.
const OUTAGE_PATIENCE: Duration = Duration::from_secs(60);
/// The same once the worker is stopping.
const STOPPING_PATIENCE: Duration = Duration::from_secs(3);

impl Worker {
    pub(super) fn report_loop(&self, reports: Receiver<Finished>) {
        let Ok(mut control) = self.control() else {
            return;
        };
        while let Ok(first) = reports.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match reports.try_recv() {
                    Ok(report) => batch.push(report),
                    Err(_) => break,
                }
            }
            // Reports should not be lost: keep retrying through outages for
            // a minute, or a few seconds once the worker is told to stop (an
            // undelivered report only means the task runs again elsewhere).
            let started = Instant::now();
            while let Err(err) = send_reports(&mut control, &batch) {
                let patience = if self.stop.load(Ordering::Relaxed) {
                    STOPPING_PATIENCE
                } else {
                    OUTAGE_PATIENCE
                };
                if started.elapsed() > patience {
                    tracing::error!("dropping {} reports: {err}", batch.len());
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            // Only now: an entry pending and not held is an orphan (orphans.rs).
            self.holdings
                .release(batch.iter().map(|f| (&f.stream, f.entry_id.as_str())));
        }
    }
}

fn send_reports(control: &mut Control, batch: &[Finished]) -> Result<(), ClusterError> {
    let mut streams: Vec<&str> = batch.iter().map(|f| &*f.stream).collect();
    streams.sort_unstable();
    streams.dedup();
    control.run("report", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for finished in batch {
            // NOMKSTREAM: a report for a job whose driver has finished (and
            // deleted the stream) must not create a stream nobody reads.
            pipe.cmd("XADD")
                .arg(keys::job_events(&finished.job_id))
                .arg("NOMKSTREAM")
                .arg("*");
            finished.report.encode(&mut pipe);
            pipe.ignore();
        }
        // Acknowledged after the reports, in the same pipeline: an entry
        // gone from its stream has its report queued (see vanished.rs).
        for &stream in &streams {
            let ids: Vec<&str> = batch
                .iter()
                .filter(|f| &*f.stream == stream)
                .map(|f| f.entry_id.as_str())
                .collect();
            pipe.cmd("XACK")
                .arg(stream)
                .arg(keys::GROUP)
                .arg(&ids)
                .ignore();
            pipe.cmd("XDEL").arg(stream).arg(&ids).ignore();
        }
        pipe.query::<()>(c)
    })
}
