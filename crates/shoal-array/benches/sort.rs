//! Sort N random u64 (default 100M) on 2 threads: Shoal's sample sort
//! (`from_vec(data).sort().collect()`, in memory and with a memory budget
//! far below the data so every shuffle output spills and is merged back
//! from sorted runs) against rayon's `par_sort_unstable` on a plain Vec.
//!
//! `cargo bench -p shoal-array --bench sort` (env: `SHOAL_BENCH_N`,
//! `SHOAL_BENCH_RUNS`, `SHOAL_BENCH_PARTITIONS`, `SHOAL_BENCH_CASES` — a
//! comma-separated subset of `memory,spill`; rayon always runs). Runs
//! alternate between rayon and Shoal, so both see the same load; prints
//! medians and the ratio to rayon, with the machine's load average.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use shoal_array::Session;
mod common;

use common::{cpu_time, env, load, median, StageTimes};
use shoal_core::EmbeddedConfig;

/// Wall and CPU time of one run.
type Times = (Duration, Duration);

/// One timed Shoal sort of `data`, checked.
fn shoal_sort(session: &Session, data: &[u64], parts: u32) -> Times {
    let input = session.from_vec(data.to_vec(), parts);
    let (started, cpu) = (Instant::now(), cpu_time());
    let sorted = input.sort().collect().unwrap();
    let took = (started.elapsed(), cpu_time() - cpu);
    // Freeing the input is not part of the sort (rayon's is freed untimed).
    drop(input);
    assert_eq!(sorted.len(), data.len());
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    took
}

/// One timed rayon sort of `data` on `pool`.
fn rayon_sort(pool: &rayon::ThreadPool, data: &[u64]) -> Times {
    let mut v = data.to_vec();
    let (started, cpu) = (Instant::now(), cpu_time());
    pool.install(|| v.par_sort_unstable());
    (started.elapsed(), cpu_time() - cpu)
}

/// Median wall and CPU times of runs.
fn medians(runs: Vec<Times>) -> Times {
    let (wall, cpu) = runs.into_iter().unzip();
    (median(wall), median(cpu))
}

fn main() {
    let n = env("SHOAL_BENCH_N", 100_000_000) as usize;
    let runs = env("SHOAL_BENCH_RUNS", 3);
    let parts = env("SHOAL_BENCH_PARTITIONS", 64) as u32;
    let threads = env("SHOAL_BENCH_THREADS", 2) as usize;
    let cases = std::env::var("SHOAL_BENCH_CASES").unwrap_or_else(|_| "memory,spill".into());
    let mut rng = SmallRng::seed_from_u64(42);
    let data: Vec<u64> = (0..n).map(|_| rng.random()).collect();
    let gib = (n * 8) as f64 / f64::from(1 << 30);
    println!("sort {n} random u64 ({gib:.2} GiB), {threads} threads, median of {runs} (runs alternate rayon / shoal)");

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let config = |budget: u64, spill: &str| EmbeddedConfig {
        threads,
        max_attempts: 1,
        memory_budget: budget,
        work_dir: spill.into(),
    };
    let spill_dir = tempfile::tempdir().unwrap();
    let spill_url = spill_dir.path().to_string_lossy().into_owned();
    let budget = (n as u64 * 8 / 16).max(1);
    let progress = |s: Session| {
        if std::env::var_os("SHOAL_BENCH_STAGES").is_some() {
            s.with_progress(std::sync::Arc::new(StageTimes))
        } else {
            s
        }
    };
    let mut sessions = Vec::new();
    if cases.contains("memory") {
        let s = progress(Session::with_config(config(u64::MAX, &spill_url)));
        sessions.push((format!("shoal sort, in memory ({parts:>3} parts)  "), s));
    }
    if cases.contains("spill") {
        let s = progress(Session::with_config(config(budget, &spill_url)));
        sessions.push((
            format!(
                "shoal sort, budget {:>3} MiB ({parts:>3} parts)",
                budget >> 20
            ),
            s,
        ));
    }
    let mut rayon_times = Vec::new();
    let mut shoal_times = vec![Vec::new(); sessions.len()];
    for _ in 0..runs {
        rayon_times.push(rayon_sort(&pool, &data));
        for (times, (_, session)) in shoal_times.iter_mut().zip(&sessions) {
            times.push(shoal_sort(session, &data, parts));
        }
    }
    let rayon = medians(rayon_times);
    println!(
        "  {:<38} {:>8.2?}   cpu {:>8.2?}",
        "rayon par_sort_unstable", rayon.0, rayon.1
    );
    for (times, (name, _)) in shoal_times.into_iter().zip(&sessions) {
        let t = medians(times);
        println!(
            "  {name:<38} {:>8.2?}   cpu {:>8.2?}   {:.2}x rayon (cpu {:.2}x)",
            t.0,
            t.1,
            t.0.as_secs_f64() / rayon.0.as_secs_f64(),
            t.1.as_secs_f64() / rayon.1.as_secs_f64(),
        );
    }
    println!("  (load {})", load());
}
