//! Runs the built-in `array-sort` job embedded and prints its summary as
//! JSON on stdout, and what it held and spilled on stderr; what
//! `bench/array_sort.sh` measures against DuckDB.
//!
//! `array_sort N PARTITIONS BUDGET_BYTES WORK_DIR [THREADS] [SEED]`

use std::sync::{Arc, Mutex};

use shoal_array::jobs::SortJob;
use shoal_array::Session;
use shoal_core::{EmbeddedConfig, MemoryStats, ProgressEvent, ProgressSink};

/// Keeps the memory figures reported at the end of the job.
#[derive(Default)]
struct LastMemory(Mutex<Option<MemoryStats>>);

impl ProgressSink for LastMemory {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Memory(stats) = event {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(*stats);
        }
    }
}

fn arg(args: &[String], at: usize, name: &str) -> u64 {
    args.get(at)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "usage: array_sort N PARTITIONS BUDGET_BYTES WORK_DIR [THREADS] [SEED]; bad {name}"
            )
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, partitions, budget) = (
        arg(&args, 0, "N"),
        arg(&args, 1, "PARTITIONS"),
        arg(&args, 2, "BUDGET_BYTES"),
    );
    let work_dir = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| std::env::temp_dir().to_string_lossy().into_owned());
    let threads = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(2);
    let seed = args.get(5).and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
    let memory = Arc::new(LastMemory::default());
    let session = Session::with_config(EmbeddedConfig {
        threads,
        max_attempts: 1,
        memory_budget: budget,
        work_dir: work_dir.into(),
    })
    .with_progress(memory.clone());
    let params = serde_json::json!({"n": n, "partitions": partitions, "seed": seed});
    let summary = session
        .run_job(&SortJob, params)
        .expect("array-sort failed");
    println!(
        "{}",
        serde_json::to_string(&summary).expect("summary as JSON")
    );
    let stats = *memory.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stats) = stats {
        eprintln!(
            "peak held {} MiB of a {} MiB budget, spilled {} MiB in {} files",
            stats.peak_held >> 20,
            stats.budget >> 20,
            stats.spilled_bytes >> 20,
            stats.spill_files
        );
    }
}
