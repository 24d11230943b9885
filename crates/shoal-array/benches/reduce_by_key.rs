//! `reduce_by_key` over N (u32 key, u64 value) pairs (default 100M) with
//! 1M distinct keys on 2 threads, against a hand-written multi-threaded
//! hash aggregation (one ahash map per thread, merged).
//!
//! `cargo bench -p shoal-array --bench reduce_by_key` (env:
//! `SHOAL_BENCH_N`, `SHOAL_BENCH_KEYS`, `SHOAL_BENCH_RUNS`,
//! `SHOAL_BENCH_PARTITIONS`). Prints medians, the ratio and the load.

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shoal_array::Session;
mod common;

use common::{env, load, median, StageTimes};
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
    println!("reduce_by_key: {n} (u32, u64) pairs, {keys} keys, 2 threads, median of {runs}");

    let mut times = Vec::new();
    let mut want = (0, 0);
    for _ in 0..runs {
        let started = Instant::now();
        let result = hand_written(&pairs, env("SHOAL_BENCH_THREADS", 2) as usize);
        times.push(started.elapsed());
        want = checksum(&result);
    }
    let peer = median(times);
    println!(
        "  hand-written 2-thread hash agg   {:>8.2?}   (load {})",
        peer,
        load()
    );

    let session = Session::with_config(EmbeddedConfig {
        threads: env("SHOAL_BENCH_THREADS", 2) as usize,
        max_attempts: 1,
        memory_budget: u64::MAX,
        ..EmbeddedConfig::default()
    });
    let session = if std::env::var_os("SHOAL_BENCH_STAGES").is_some() {
        session.with_progress(std::sync::Arc::new(StageTimes))
    } else {
        session
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        let input = pairs.clone();
        let started = Instant::now();
        let result = session
            .from_vec(input, parts)
            .reduce_by_key(|a, b| a + b)
            .collect()
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(checksum(&result), want, "shoal and the peer disagree");
    }
    let shoal = median(times);
    println!(
        "  shoal reduce_by_key ({parts:>3} parts)  {:>8.2?}   {:.2}x peer   (load {})",
        shoal,
        shoal.as_secs_f64() / peer.as_secs_f64(),
        load()
    );
}
