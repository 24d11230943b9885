//! `reduce_by_key` over far more state than the memory budget: counts
//! `N` generated keys drawn from `KEYS` distinct values, embedded, and
//! prints `{"keys": distinct keys, "total": N}` as JSON on stdout and
//! what it held and spilled on stderr (`bench/reduce_big.sh`).
//!
//! `reduce_big N KEYS PARTITIONS BUDGET_BYTES WORK_DIR [THREADS]`

mod common;

/// SplitMix64: spreads `i` over all of u64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn arg(args: &[String], at: usize) -> u64 {
    args.get(at)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            panic!("usage: reduce_big N KEYS PARTITIONS BUDGET_BYTES WORK_DIR [THREADS]")
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, keys, partitions, budget) =
        (arg(&args, 0), arg(&args, 1), arg(&args, 2), arg(&args, 3));
    let work_dir = args.get(4).cloned().unwrap_or_else(|| ".".into());
    let threads = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(2);
    let (session, memory) = common::session(budget, work_dir, threads);
    let (distinct, total) = session
        .range(n, partitions as u32)
        .map(move |i| (mix(i) % keys, 1u64))
        .reduce_by_key(|a, b| a + b)
        .fold(
            (0u64, 0u64),
            |(d, t), (_, count)| (d + 1, t + count),
            |a, b| (a.0 + b.0, a.1 + b.1),
        )
        .expect("reduce_by_key failed");
    println!("{{\"keys\": {distinct}, \"total\": {total}}}");
    memory.report();
}
