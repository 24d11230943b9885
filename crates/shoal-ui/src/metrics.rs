//! Prometheus metrics in the text exposition format (0.0.4), through
//! `prometheus-client`.
//!
//! The values already exist elsewhere (a worker's counters, the control
//! plane's records), so each scrape encodes a [`MetricsSnapshot`] as
//! constant metrics through a collector instead of keeping a second set of
//! live counters in step.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use shoal_cluster::trace::DurationHistogram;

/// The `Content-Type` of a scrape response.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every value one scrape reports.
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    /// One per worker; on a worker's own endpoint, itself without a name
    /// label (Prometheus adds `instance`).
    pub workers: Vec<WorkerGauges>,
    /// Attempts by job name, stage name and outcome.
    pub tasks: Vec<TaskCount>,
    /// Durations of committed attempts, by job name.
    pub durations: Vec<(String, DurationHistogram)>,
    /// Tasks waiting per task stream (job fingerprint); cluster only.
    pub queues: Option<Vec<(String, u64)>>,
    /// Jobs by state within the retention time; cluster only.
    pub jobs: Option<Vec<(String, u64)>>,
}

/// A worker's gauges and store counters.
#[derive(Debug, Clone, Default)]
pub struct WorkerGauges {
    /// `worker` label; `None` on the worker's own endpoint.
    pub name: Option<String>,
    /// Task slots.
    pub slots: u64,
    /// Tasks running.
    pub running: u64,
    /// Bytes read from the store since the process started.
    pub bytes_read: u64,
    /// Bytes written to the store since the process started.
    pub bytes_written: u64,
}

/// Attempts of one job's stage that ended one way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCount {
    /// Job name (not the run id: series stay bounded).
    pub job: String,
    /// Stage name.
    pub stage: String,
    /// `done`, `failed`, `skipped` or `duplicate`.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

impl MetricsSnapshot {
    /// The snapshot in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SnapshotCollector(self.clone())));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

impl MetricsSnapshot {
    /// What a worker's own endpoint reports: its slots, running tasks,
    /// attempts, durations and store traffic.
    pub fn of_worker(activity: &shoal_cluster::Activity, slots: usize) -> MetricsSnapshot {
        let a = activity.snapshot();
        let mut tasks = Vec::new();
        for s in &a.stages {
            for (outcome, count) in [
                ("done", s.done),
                ("failed", s.failed),
                ("skipped", s.skipped),
            ] {
                if count > 0 {
                    tasks.push(TaskCount {
                        job: s.job.clone(),
                        stage: s.stage_name.clone(),
                        outcome: outcome.into(),
                        count,
                    });
                }
            }
        }
        MetricsSnapshot {
            workers: vec![WorkerGauges {
                name: None,
                slots: slots as u64,
                running: a.running,
                bytes_read: a.bytes_read,
                bytes_written: a.bytes_written,
            }],
            tasks,
            durations: a.durations,
            queues: None,
            jobs: None,
        }
    }
}

#[derive(Debug)]
struct SnapshotCollector(MetricsSnapshot);

type Fmt = Result<(), std::fmt::Error>;

/// A metric family read off each worker: name, help and the value.
type WorkerFamily = (&'static str, &'static str, fn(&WorkerGauges) -> u64);

fn worker_labels(w: &WorkerGauges) -> Vec<(&'static str, String)> {
    w.name.iter().map(|n| ("worker", n.clone())).collect()
}

impl SnapshotCollector {
    fn gauges(&self, encoder: &mut DescriptorEncoder) -> Fmt {
        let s = &self.0;
        let slots: &[WorkerFamily] = &[
            ("shoal_worker_slots", "Tasks a worker runs at once.", |w| {
                w.slots
            }),
            (
                "shoal_worker_running_tasks",
                "Tasks a worker is running now.",
                |w| w.running,
            ),
        ];
        for (name, help, value) in slots {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for w in &s.workers {
                let labels = worker_labels(w);
                ConstGauge::new(value(w) as i64).encode(metric.encode_family(&labels)?)?;
            }
        }
        let bytes: &[WorkerFamily] = &[
            (
                "shoal_store_bytes_read",
                "Bytes a worker read from the shared store.",
                |w| w.bytes_read,
            ),
            (
                "shoal_store_bytes_written",
                "Bytes a worker wrote to the shared store.",
                |w| w.bytes_written,
            ),
        ];
        for (name, help, value) in bytes {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for w in &s.workers {
                let labels = worker_labels(w);
                ConstCounter::new(value(w)).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn tasks(&self, encoder: &mut DescriptorEncoder) -> Fmt {
        let mut metric = encoder.encode_descriptor(
            "shoal_tasks",
            "Task attempts that ended, by job name, stage name and outcome.",
            None,
            MetricType::Counter,
        )?;
        for t in &self.0.tasks {
            let labels = [
                ("job", t.job.as_str()),
                ("stage", t.stage.as_str()),
                ("outcome", t.outcome.as_str()),
            ];
            ConstCounter::new(t.count).encode(metric.encode_family(&labels)?)?;
        }
        let mut metric = encoder.encode_descriptor(
            "shoal_task_duration",
            "Run time of committed task attempts, by job name.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (job, histogram) in &self.0.durations {
            let labels = [("job", job.as_str())];
            metric
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    histogram.sum_seconds(),
                    histogram.count(),
                    &histogram.cumulative(),
                    None,
                )?;
        }
        Ok(())
    }

    fn cluster(&self, encoder: &mut DescriptorEncoder) -> Fmt {
        if let Some(queues) = &self.0.queues {
            let mut metric = encoder.encode_descriptor(
                "shoal_queue_pending_tasks",
                "Task entries queued and not yet reported, per job fingerprint.",
                None,
                MetricType::Gauge,
            )?;
            for (queue, n) in queues {
                let labels = [("queue", queue.as_str())];
                ConstGauge::new(*n as i64).encode(metric.encode_family(&labels)?)?;
            }
        }
        if let Some(jobs) = &self.0.jobs {
            let mut metric = encoder.encode_descriptor(
                "shoal_jobs",
                "Jobs within the retention time, by state.",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in jobs {
                let labels = [("state", state.as_str())];
                ConstGauge::new(*n as i64).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        self.gauges(&mut encoder)?;
        self.tasks(&mut encoder)?;
        self.cluster(&mut encoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_renders_every_family_with_its_labels() {
        let mut histogram = DurationHistogram::default();
        histogram.observe_us(2_000);
        let snapshot = MetricsSnapshot {
            workers: vec![WorkerGauges {
                name: Some("w1".into()),
                slots: 2,
                running: 1,
                bytes_read: 10,
                bytes_written: 20,
            }],
            tasks: vec![TaskCount {
                job: "noop".into(),
                stage: "run".into(),
                outcome: "done".into(),
                count: 1000,
            }],
            durations: vec![("noop".into(), histogram)],
            queues: Some(vec![("noop@1".into(), 3)]),
            jobs: Some(vec![("running".into(), 1)]),
        };
        let text = snapshot.render();
        for line in [
            "shoal_worker_slots{worker=\"w1\"} 2",
            "shoal_worker_running_tasks{worker=\"w1\"} 1",
            "shoal_store_bytes_read_total{worker=\"w1\"} 10",
            "shoal_store_bytes_written_total{worker=\"w1\"} 20",
            "shoal_tasks_total{job=\"noop\",stage=\"run\",outcome=\"done\"} 1000",
            "shoal_task_duration_seconds_bucket{job=\"noop\",le=\"0.005\"} 1",
            "shoal_task_duration_seconds_count{job=\"noop\"} 1",
            "shoal_queue_pending_tasks{queue=\"noop@1\"} 3",
            "shoal_jobs{state=\"running\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn a_worker_endpoint_has_no_worker_label_and_no_cluster_families() {
        let snapshot = MetricsSnapshot {
            workers: vec![WorkerGauges {
                slots: 4,
                ..WorkerGauges::default()
            }],
            ..MetricsSnapshot::default()
        };
        let text = snapshot.render();
        assert!(text.lines().any(|l| l == "shoal_worker_slots 4"), "{text}");
        assert!(!text.contains("shoal_jobs"));
        assert!(!text.contains("shoal_queue_pending_tasks"));
    }
}
