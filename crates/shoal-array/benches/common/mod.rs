//! What the shoal-array benchmarks share: settings from the environment,
//! medians, the machine's load, and per-stage timings.

use std::time::Duration;

use shoal_core::{ProgressEvent, ProgressSink};

/// The numeric environment variable `name`, or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `times` (the upper one of an even count).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The 1/5/15-minute load averages, printed beside every figure.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Prints each stage's wall time when `SHOAL_BENCH_STAGES` is set.
pub struct StageTimes;

impl ProgressSink for StageTimes {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::StageFinished { name, elapsed, .. } = event {
            println!("      stage {name:<12} {elapsed:>8.2?}");
        }
    }
}
