//! Runs the built-in `array-sort` job embedded and prints its summary as
//! JSON on stdout, and what it held and spilled on stderr; what
//! `bench/array_sort.sh` measures against DuckDB.
//!
//! `array_sort N PARTITIONS BUDGET_BYTES WORK_DIR [THREADS] [SEED]`

use shoal_array::jobs::SortJob;

mod common;

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
    let (session, memory) = common::session(budget, work_dir, threads);
    let params = serde_json::json!({"n": n, "partitions": partitions, "seed": seed});
    let summary = session
        .run_job(&SortJob, params)
        .expect("array-sort failed");
    println!(
        "{}",
        serde_json::to_string(&summary).expect("summary as JSON")
    );
    memory.report();
}
