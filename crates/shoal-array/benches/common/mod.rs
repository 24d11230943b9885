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

/// CPU time (user + system) this process has used so far, from
/// /proc/self/stat (clock ticks of 10 ms; zero where there is no /proc).
/// On a loaded machine it varies less than wall time: a figure to read
/// beside it, not instead of it.
pub fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces).
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
