//! The run summary: statistics on stderr and in `--stats FILE`, never on
//! stdout, which carries only the result.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use shoal_core::{JobStats, MemoryStats};

use crate::progress::human;
use crate::{program_name, CliError};

/// A few lines for stderr: the totals, then one line per stage.
pub fn render(stats: &JobStats) -> String {
    let program = program_name();
    let mut out = format!(
        "{program}: {} done in {:.3}s (planning {:.3}s, finish {:.3}s): {} tasks, {} attempts",
        stats.job_id,
        stats.wall.as_secs_f64(),
        stats.planning.as_secs_f64(),
        stats.finish.as_secs_f64(),
        stats.tasks,
        stats.attempts,
    );
    if stats.runs > 1 {
        // A review set the first run's results aside (see `Job::review`).
        let _ = write!(out, " over {} runs", stats.runs);
    }
    out.push_str(&volume(
        stats.failed_attempts,
        stats.rows,
        stats.bytes,
        stats.bytes_spilled,
    ));
    if let Some(rss) = stats.peak_rss_bytes {
        let _ = write!(out, ", peak RSS {}", human(rss as f64, "B"));
    }
    out.push('\n');
    if let Some(memory) = &stats.memory {
        let _ = writeln!(out, "{program}:   {}", memory_line(memory));
    }
    for (index, stage) in stats.stages.iter().enumerate() {
        let _ = writeln!(
            out,
            "{program}:   stage {index} ({}): {} tasks in {:.3}s{}",
            stage.name,
            stage.tasks,
            stage.elapsed.as_secs_f64(),
            volume(
                stage.failed_attempts,
                stage.rows,
                stage.bytes,
                stage.bytes_spilled
            ),
        );
    }
    out
}

/// What a job held at its peak against its budget, and what it spilled.
fn memory_line(stats: &MemoryStats) -> String {
    let budget = if stats.budget == u64::MAX {
        "unbounded".to_string()
    } else {
        human(stats.budget as f64, "B")
    };
    format!(
        "memory: peak {} held (budget {budget}), spilled {} in {} files",
        human(stats.peak_held as f64, "B"),
        human(stats.spilled_bytes as f64, "B"),
        stats.spill_files
    )
}

/// `, 3 failed, 1.2 M rows, 45.0 MB read, 2.0 MB spilled`, leaving out zeros.
fn volume(failed: u64, rows: u64, bytes: u64, spilled: u64) -> String {
    let mut out = String::new();
    if failed > 0 {
        let _ = write!(out, ", {failed} failed");
    }
    if rows > 0 {
        let _ = write!(out, ", {} rows", human(rows as f64, ""));
    }
    if bytes > 0 {
        let _ = write!(out, ", {} read", human(bytes as f64, "B"));
    }
    if spilled > 0 {
        let _ = write!(out, ", {} spilled", human(spilled as f64, "B"));
    }
    out
}

/// Writes `stats` to `path` as pretty JSON.
pub fn write_json(stats: &JobStats, path: &Path) -> Result<(), CliError> {
    let mut json = serde_json::to_vec_pretty(stats).context("encoding the statistics")?;
    json.push(b'\n');
    crate::output::write_file(path, &json)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shoal_core::StageStats;

    use super::*;

    #[test]
    fn the_summary_names_totals_and_stages_and_leaves_out_zeros() {
        let mut stats = JobStats {
            job_id: "wordcount-1".into(),
            wall: Duration::from_millis(1500),
            peak_rss_bytes: Some(52_000_000),
            ..JobStats::default()
        };
        stats.set_stages(vec![
            StageStats {
                name: "read".into(),
                tasks: 8,
                failed_attempts: 1,
                elapsed: Duration::from_millis(800),
                rows: 1_200_000,
                bytes: 45_000_000,
                ..StageStats::default()
            },
            StageStats {
                name: "count".into(),
                tasks: 4,
                ..StageStats::default()
            },
        ]);
        let text = render(&stats);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        stats.memory = Some(MemoryStats {
            budget: 512 << 20,
            peak_held: 3_000_000,
            spilled_bytes: 0,
            spill_files: 0,
        });
        let with_memory = render(&stats);
        assert!(
            with_memory
                .lines()
                .nth(1)
                .unwrap()
                .ends_with("memory: peak 3.0 MB held (budget 536.9 MB), spilled 0 B in 0 files"),
            "{with_memory}"
        );
        assert!(
            lines[0].ends_with(
                "wordcount-1 done in 1.500s (planning 0.000s, finish 0.000s): 12 tasks, \
                 13 attempts, 1 failed, 1.2 M rows, 45.0 MB read, peak RSS 52.0 MB"
            ),
            "{text}"
        );
        assert!(
            lines[1]
                .ends_with("stage 0 (read): 8 tasks in 0.800s, 1 failed, 1.2 M rows, 45.0 MB read"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("stage 1 (count): 4 tasks in 0.000s"),
            "{text}"
        );
    }
}
