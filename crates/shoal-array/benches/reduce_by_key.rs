//! `reduce_by_key` over N (u32 key, u64 value) pairs (default 100M) with
//! 1M distinct keys on 2 threads, against a hand-written multi-threaded
//! hash aggregation (one ahash map per thread, merged).
//!
//! `cargo bench -p shoal-array --bench reduce_by_key` (env:
//! `SHOAL_BENCH_N`, `SHOAL_BENCH_KEYS`, `SHOAL_BENCH_RUNS`,
//! `SHOAL_BENCH_PARTITIONS`). Runs alternate between the peer and Shoal, so
//! both see the same load; prints medians of wall and CPU time, the
//! ratios and the load.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shoal_array::Session;
mod common;

use common::{cpu_time, env, load, median, StageTimes};
use shoal_core::EmbeddedConfig;

type Map = HashMap<u32, u64, ahash::RandomState>;

/// The peer: each thread aggregates its half, then the maps are merged.
fn hand_written(pairs: &[(u32, u64)], threads: usize) -> Vec<(u32, u64)> {
    let chunk = pairs.len().div_ceil(threads).max(1);
    let mut maps: Vec<Map> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut map = Map::default();
                    for &(k, v) in part {
                        *map.entry(k).or_insert(0) += v;
                    }
                    map
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = maps.pop().unwrap_or_default();
    for map in maps {
        for (k, v) in map {
            *total.entry(k).or_insert(0) += v;
        }
    }
    total.into_iter().collect()
}

fn checksum(result: &[(u32, u64)]) -> (usize, u64) {
    let sum = result.iter().fold(0u64, |acc, &(k, v)| {
        acc.wrapping_add(v.wrapping_mul(u64::from(k) | 1))
    });
    (result.len(), sum)
}

fn main() {
    let n = env("SHOAL_BENCH_N", 100_000_000) as usize;
    let keys = env("SHOAL_BENCH_KEYS", 1_000_000) as u32;
    let runs = env("SHOAL_BENCH_RUNS", 3);
    let parts = env("SHOAL_BENCH_PARTITIONS", 16) as u32;
    let mut rng = SmallRng::seed_from_u64(7);
    let pairs: Vec<(u32, u64)> = (0..n)
        .map(|_| (rng.random_range(0..keys), rng.random_range(0..1000)))
        .collect();
    println!("reduce_by_key: {n} (u32, u64) pairs, {keys} keys, median of {runs} (runs alternate peer / shoal)");

    let threads = env("SHOAL_BENCH_THREADS", 2) as usize;
    let session = Session::with_config(EmbeddedConfig {
        threads,
        max_attempts: 1,
        memory_budget: u64::MAX,
        ..EmbeddedConfig::default()
    });
    let session = if std::env::var_os("SHOAL_BENCH_STAGES").is_some() {
        session.with_progress(std::sync::Arc::new(StageTimes))
    } else {
        session
    };
    let (mut peer_times, mut shoal_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (started, cpu) = (Instant::now(), cpu_time());
        let want = checksum(&hand_written(&pairs, threads));
        peer_times.push((started.elapsed(), cpu_time() - cpu));

        let input = pairs.clone();
        let (started, cpu) = (Instant::now(), cpu_time());
        let result = session
            .from_vec(input, parts)
            .reduce_by_key(|a, b| a + b)
            .collect()
            .unwrap();
        shoal_times.push((started.elapsed(), cpu_time() - cpu));
        assert_eq!(checksum(&result), want, "shoal and the peer disagree");
    }
    let (peer, shoal) = (medians(peer_times), medians(shoal_times));
    println!(
        "  hand-written {threads}-thread hash agg   {:>8.2?}   cpu {:>8.2?}",
        peer.0, peer.1
    );
    println!(
        "  shoal reduce_by_key ({parts:>3} parts)  {:>8.2?}   cpu {:>8.2?}   {:.2}x peer (cpu {:.2}x)",
        shoal.0,
        shoal.1,
        shoal.0.as_secs_f64() / peer.0.as_secs_f64(),
        shoal.1.as_secs_f64() / peer.1.as_secs_f64(),
    );
    println!("  (load {})", load());
}

/// Median wall and CPU times of runs.
fn medians(runs: Vec<(Duration, Duration)>) -> (Duration, Duration) {
    let (wall, cpu) = runs.into_iter().unzip();
    (median(wall), median(cpu))
}
