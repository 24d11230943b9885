//! Bigger than memory: every wide operation under a budget of a few KiB
//! equals the in-memory computation (empty partitions and heavy skew
//! included), and a sort whose one reduce partition is 20× the budget
//! completes within bounded memory, asserted through the executor's
//! memory and spill counters.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{config, plain, session, threads};
use proptest::prelude::*;
use shoal_array::jobs::SortJob;
use shoal_array::Session;
use shoal_core::{MemoryStats, ProgressEvent, ProgressSink};

/// Keeps the memory figures the executor reports at the end of a job.
#[derive(Default)]
struct LastMemory(Mutex<Option<MemoryStats>>);

impl ProgressSink for LastMemory {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Memory(stats) = event {
            *self.0.lock().unwrap() = Some(*stats);
        }
    }
}

/// Partitions of every size: empty ones, and one holding nearly all.
fn skewed() -> impl Strategy<Value = Vec<Vec<(u8, u32)>>> {
    let row = (0u8..40, any::<u32>());
    (
        prop::collection::vec(prop::collection::vec(row.clone(), 0..6), 1..8),
        prop::collection::vec(row, 0..600),
        0usize..8,
    )
        .prop_map(|(mut parts, big, at)| {
            let at = at.min(parts.len());
            parts.insert(at, big);
            parts
        })
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn every_wide_operation_spills_and_matches_memory(parts in skewed(), t in threads()) {
        let dir = tempfile::tempdir().unwrap();
        let tiny = session(t, 4 << 10, dir.path().to_str().unwrap());
        let mem = plain(t);
        let run = |s: &Session| {
            let arr = s.from_partitions(parts.clone());
            let keyed = arr.map(|(k, v)| (k, u64::from(v)));
            let right = s.from_partitions(parts.clone()).map(|(k, v)| (k, v % 7));
            // Keyed results come in the same order whatever the budget.
            let reduced = keyed.reduce_by_key(|a, b| a.wrapping_add(*b)).collect().unwrap();
            let grouped = arr.group_by_key().collect().unwrap();
            let distinct = arr.map(|(k, _)| k).distinct().collect().unwrap();
            (
                arr.sort().collect().unwrap(),
                arr.sort_by_key(|x| x.0).collect().unwrap(),
                arr.map(|(k, v)| u64::from(k) << 32 | u64::from(v)).sort().collect().unwrap(),
                reduced,
                grouped,
                distinct,
                keyed.join(&right).collect().unwrap(),
                keyed.left_join(&right.filter(|(k, _)| k % 2 == 0)).collect().unwrap(),
            )
        };
        let (got, want) = (run(&tiny), run(&mem));
        let mut flat = parts.concat();
        flat.sort_by_key(|x| x.0);
        prop_assert_eq!(&got.1, &flat, "sort_by_key is a stable sort");
        prop_assert_eq!(got, want);
    }
}

#[test]
fn a_sort_partition_twenty_times_the_budget_completes_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let budget: u64 = 256 << 10;
    let memory = Arc::new(LastMemory::default());
    let s = session(2, budget, dir.path().to_str().unwrap()).with_progress(memory.clone());
    // One output partition of 700,000 u64: 5.6 MB, over 20× the budget.
    let n = 700_000u64;
    let params = serde_json::json!({"n": n, "partitions": 1, "seed": 9});
    let summary = s.run_job(&SortJob, params).unwrap();
    let stats = memory.0.lock().unwrap().expect("memory figures");
    assert_eq!(summary.count, n);
    assert!(summary.sorted, "{summary:?}");
    let want = plain(2)
        .run_job(
            &SortJob,
            serde_json::json!({"n": n, "partitions": 3, "seed": 9}),
        )
        .unwrap();
    assert_eq!(summary.checksum, want.checksum);
    assert_eq!((summary.first, summary.last), (want.first, want.last));
    assert!(
        stats.spilled_bytes >= 2 * n * 8,
        "spilled too little: {stats:?}"
    );
    // A tenth of the data at most ever sat in memory at once.
    assert!(
        stats.peak_held <= budget + budget / 4,
        "held too much: {stats:?}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_sort_computes_its_input_once_within_and_beyond_memory() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50_000u64;
    for s in [plain(2), session(2, 64 << 10, dir.path().to_str().unwrap())] {
        let calls = Arc::new(AtomicU64::new(0));
        let counted = calls.clone();
        let sorted = s
            .range(n, 4)
            .map(move |i| {
                counted.fetch_add(1, Ordering::Relaxed);
                (i * 7_919) % n
            })
            .sort()
            .collect()
            .unwrap();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        assert_eq!(
            calls.load(Ordering::Relaxed),
            n,
            "each element computed once"
        );
    }
}

#[test]
fn a_join_whose_build_side_outgrows_the_budget_partitions_both_sides_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(LastMemory::default());
    let budget: u64 = 64 << 10;
    let tiny = session(2, budget, dir.path().to_str().unwrap()).with_progress(memory.clone());
    let run = |s: &Session| {
        let left = s.range(30_000, 3).map(|i| (i % 5_000, i));
        // 60,000 build rows in one partition: about 20× the budget.
        let right = s.range(60_000, 1).map(|i| (i % 7_000, i * 3));
        let right = right.repartition(3).unwrap();
        (
            left.join(&right).collect().unwrap(),
            left.left_join(&right.filter(|(k, _)| k % 3 == 0))
                .collect()
                .unwrap(),
        )
    };
    let got = run(&tiny);
    let stats = memory.0.lock().unwrap().expect("memory figures");
    assert!(
        got == run(&plain(2)),
        "grace join differs from the in-memory join"
    );
    // Keys below 5,000: six left rows each; nine right rows for keys below
    // 4,000, eight for the rest.
    assert_eq!(got.0.len(), 6 * (4_000 * 9 + 1_000 * 8));
    assert!(stats.spill_files >= 16, "{stats:?}");
}

#[test]
fn realign_zip_and_top_k_stream_many_batches_under_a_small_budget() {
    let dir = tempfile::tempdir().unwrap();
    let n = 300_000u64;
    let want: Vec<u64> = (0..n).map(|i| (i * 7_919) % n).collect();
    for s in [
        plain(2),
        session(2, 128 << 10, dir.path().to_str().unwrap()),
    ] {
        // A streamed source, several batches per partition.
        let arr = s.range(n, 3).map(move |i| (i * 7_919) % n);
        assert_eq!(arr.repartition(2).unwrap().collect().unwrap(), want);
        // Unaligned partitions: realigned by a shuffle, zipped batch by batch.
        let zipped = arr.zip(&s.range(n, 5)).unwrap().collect().unwrap();
        assert_eq!(zipped.len(), want.len());
        assert!(zipped
            .iter()
            .zip(0..)
            .all(|(&(x, i), j)| i == j && x == want[j as usize]));
        assert_eq!(arr.top_k(3).unwrap(), vec![n - 1, n - 2, n - 3]);
        let top = arr.top_k(200_000).unwrap();
        assert_eq!(top, (n - 200_000..n).rev().collect::<Vec<_>>());
        assert!(arr.top_k(0).unwrap().is_empty());
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
