//! Sort N random u64 (default 100M) on 2 threads: Shoal's sample sort
//! (`from_vec(data).sort().collect()`, in memory and with a memory budget
//! far below the data so every shuffle output spills and is merged back
//! from sorted runs) against rayon's `par_sort_unstable` on a plain Vec.
//!
//! `cargo bench -p shoal-array --bench sort` (env: `SHOAL_BENCH_N`,
//! `SHOAL_BENCH_RUNS`, `SHOAL_BENCH_PARTITIONS`). Prints medians and the
//! ratio to rayon, with the machine's load average.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use shoal_array::Session;
mod common;

use common::{env, load, median, StageTimes};
use shoal_core::EmbeddedConfig;

fn shoal_sort(session: &Session, data: &[u64], parts: u32, runs: u64) -> Duration {
    let session = if std::env::var_os("SHOAL_BENCH_STAGES").is_some() {
        session.with_progress(std::sync::Arc::new(StageTimes))
    } else {
        session.clone()
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        let input = data.to_vec();
        let started = Instant::now();
        let sorted = session.from_vec(input, parts).sort().collect().unwrap();
        times.push(started.elapsed());
        assert_eq!(sorted.len(), data.len());
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    }
    median(times)
}

fn main() {
    let n = env("SHOAL_BENCH_N", 100_000_000) as usize;
    let runs = env("SHOAL_BENCH_RUNS", 3);
    let parts = env("SHOAL_BENCH_PARTITIONS", 64) as u32;
    let mut rng = SmallRng::seed_from_u64(42);
    let data: Vec<u64> = (0..n).map(|_| rng.random()).collect();
    let gib = (n * 8) as f64 / f64::from(1 << 30);
    println!("sort {n} random u64 ({gib:.2} GiB), 2 threads, median of {runs}");

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(env("SHOAL_BENCH_THREADS", 2) as usize)
        .build()
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..runs {
        let mut v = data.clone();
        let started = Instant::now();
        pool.install(|| v.par_sort_unstable());
        times.push(started.elapsed());
    }
    let rayon = median(times);
    println!(
        "  rayon par_sort_unstable            {:>8.2?}   (load {})",
        rayon,
        load()
    );

    let config = |budget: u64, spill: &str| EmbeddedConfig {
        threads: env("SHOAL_BENCH_THREADS", 2) as usize,
        max_attempts: 1,
        memory_budget: budget,
        work_dir: spill.into(),
    };
    let spill_dir = tempfile::tempdir().unwrap();
    let spill_url = spill_dir.path().to_string_lossy().into_owned();
    let memory = Session::with_config(config(u64::MAX, &spill_url));
    let t = shoal_sort(&memory, &data, parts, runs);
    println!(
        "  shoal sort, in memory ({parts:>3} parts)   {:>8.2?}   {:.2}x rayon   (load {})",
        t,
        t.as_secs_f64() / rayon.as_secs_f64(),
        load()
    );

    let budget = (n as u64 * 8 / 16).max(1);
    let spilling = Session::with_config(config(budget, &spill_url));
    let t = shoal_sort(&spilling, &data, parts, runs);
    println!(
        "  shoal sort, budget {} MiB ({:>3} parts) {:>8.2?}   {:.2}x rayon   (load {})",
        budget >> 20,
        parts,
        t,
        t.as_secs_f64() / rayon.as_secs_f64(),
        load()
    );
}
