//! The reporter: outcomes of finished tasks go back to Redis in batches.
//!
//! One pipeline per batch: one XADD per job of the batch to its event
//! stream, carrying all of the batch's reports for that job (a report's
//! fields one after the other; split into a few entries when large), then
//! one XACK and one XDEL per task stream for every entry of the batch, so
//! the task stream holds only work still waiting or running. One entry for
//! many reports spares Redis and the driver an entry per task.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::task::Finished;
use super::Worker;
use crate::control::Control;
use crate::protocol::Outcome;
use crate::{keys, ClusterError};

/// Most reports sent in one pipeline.
const BATCH: usize = 512;
/// Most reports in one event entry, and most bytes of inline results:
/// a driver reads up to [`crate::driver::EVENTS_PER_READ`] entries at once.
const REPORTS_PER_ENTRY: usize = 128;
const RESULT_BYTES_PER_ENTRY: usize = 256 * 1024;
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
                .release(batch.into_iter().map(|f| (f.stream, f.entry_id)));
        }
    }
}

fn send_reports(control: &mut Control, batch: &[Finished]) -> Result<(), ClusterError> {
    let mut streams: Vec<&str> = batch.iter().map(|f| &*f.stream).collect();
    streams.sort_unstable();
    streams.dedup();
    let entries = event_entries(batch);
    control.run("report", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for reports in &entries {
            // NOMKSTREAM: a report for a job whose driver has finished (and
            // deleted the stream) must not create a stream nobody reads.
            pipe.cmd("XADD")
                .arg(keys::job_events(&reports[0].job_id))
                .arg("NOMKSTREAM")
                .arg("*");
            for finished in reports {
                finished.report.encode(&mut pipe);
            }
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

/// The batch's reports grouped into event entries: by job, in the order
/// they finished, at most [`REPORTS_PER_ENTRY`] and about
/// [`RESULT_BYTES_PER_ENTRY`] of inline results each.
fn event_entries(batch: &[Finished]) -> Vec<Vec<&Finished>> {
    let mut jobs: Vec<&str> = Vec::new();
    for finished in batch {
        if !jobs.contains(&finished.job_id.as_str()) {
            jobs.push(&finished.job_id);
        }
    }
    let mut entries = Vec::new();
    for job in jobs {
        let mut entry: Vec<&Finished> = Vec::new();
        let mut result_bytes = 0;
        for finished in batch.iter().filter(|f| f.job_id == job) {
            let size = inline_bytes(&finished.report.outcome);
            let full = entry.len() >= REPORTS_PER_ENTRY
                || (!entry.is_empty() && result_bytes + size > RESULT_BYTES_PER_ENTRY);
            if full {
                entries.push(std::mem::take(&mut entry));
                result_bytes = 0;
            }
            result_bytes += size;
            entry.push(finished);
        }
        entries.push(entry);
    }
    entries
}

/// Bytes of an inline result (stored outputs travel as a size only).
fn inline_bytes(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Done {
            result: Some(result),
            ..
        } => result.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use shoal_core::Bytes;

    use super::*;
    use crate::protocol::{Report, TaskRef};

    fn finished(job: &str, partition: u32, result: usize) -> Finished {
        Finished {
            stream: "shoal:tasks:noop@1".into(),
            entry_id: format!("{partition}-0"),
            job_id: job.into(),
            report: Report {
                task: TaskRef {
                    stage: 0,
                    partition,
                    attempt: 0,
                },
                worker: "w".into(),
                started_us: 1,
                ended_us: 2,
                outcome: Outcome::Done {
                    rows: 0,
                    bytes: 0,
                    stored_bytes: 1 << 30,
                    result: Some(Bytes::from(vec![0; result])),
                },
            },
        }
    }

    fn shape(entries: &[Vec<&Finished>]) -> Vec<(String, Vec<u32>)> {
        entries
            .iter()
            .map(|e| {
                let parts = e.iter().map(|f| f.report.task.partition).collect();
                (e[0].job_id.clone(), parts)
            })
            .collect()
    }

    #[test]
    fn a_batch_becomes_one_entry_per_job_in_finishing_order() {
        let batch = [
            finished("a", 0, 0),
            finished("b", 1, 0),
            finished("a", 2, 0),
        ];
        assert_eq!(
            shape(&event_entries(&batch)),
            [("a".into(), vec![0, 2]), ("b".into(), vec![1])]
        );
    }

    #[test]
    fn an_entry_is_cut_by_report_count_and_by_inline_result_bytes() {
        let many: Vec<Finished> = (0..REPORTS_PER_ENTRY as u32 + 1)
            .map(|p| finished("a", p, 0))
            .collect();
        let sizes: Vec<usize> = event_entries(&many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [REPORTS_PER_ENTRY, 1]);

        // Stored outputs do not count, inline results do; a result larger
        // than the limit still travels, alone.
        let half = RESULT_BYTES_PER_ENTRY / 2;
        let big = [
            finished("a", 0, half),
            finished("a", 1, half),
            finished("a", 2, 1),
            finished("a", 3, 2 * RESULT_BYTES_PER_ENTRY),
            finished("a", 4, 0),
        ];
        assert_eq!(
            shape(&event_entries(&big)),
            [
                ("a".into(), vec![0, 1]),
                ("a".into(), vec![2]),
                ("a".into(), vec![3]),
                ("a".into(), vec![4])
            ]
        );
    }
}
