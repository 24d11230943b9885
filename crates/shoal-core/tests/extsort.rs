//! The external sorter: equal to a stable in-memory sort for any budget,
//! bounded memory far beyond it, and no spill file outliving its use.

use std::cmp::Ordering;

use proptest::prelude::*;
use shoal_core::extsort::{ExternalSorter, KeyValueCodec, RunCodec, SortOptions};
use shoal_core::{MemoryPool, SpillSpace};

/// (key, input position) pairs as 12 fixed bytes.
#[derive(Clone, Copy)]
struct PairCodec;

impl RunCodec for PairCodec {
    type Item = (u32, u64);
    fn encode(&self, items: &[(u32, u64)], out: &mut Vec<u8>) {
        for (k, v) in items {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn decode(&self, bytes: &[u8], count: usize, out: &mut Vec<(u32, u64)>) -> Result<(), String> {
        if bytes.len() != count * 12 {
            return Err(format!("{} bytes for {count} pairs", bytes.len()));
        }
        out.extend(bytes.chunks_exact(12).map(|c| {
            (
                u32::from_le_bytes(c[..4].try_into().unwrap()),
                u64::from_le_bytes(c[4..].try_into().unwrap()),
            )
        }));
        Ok(())
    }
}

fn by_key(a: &(u32, u64), b: &(u32, u64)) -> Ordering {
    a.0.cmp(&b.0)
}

/// Sorts `input` with `budget` bytes; returns the output and the stats.
fn sort(input: &[(u32, u64)], budget: u64) -> (Vec<(u32, u64)>, shoal_core::MemoryStats) {
    let pool = MemoryPool::new(budget, 1);
    let work = tempfile::tempdir().unwrap();
    let spill = SpillSpace::new(work.path(), pool.clone());
    let task = pool.task();
    let mut sorter = ExternalSorter::new(PairCodec, by_key, &task, &spill, SortOptions::default());
    sorter.extend(input.iter().copied()).unwrap();
    let mut out = Vec::new();
    for batch in sorter.finish().unwrap() {
        out.extend(batch.unwrap());
    }
    drop(task);
    assert_eq!(pool.held(), 0, "everything reserved is given back");
    (out, pool.stats())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn equals_a_stable_sort_for_any_budget(
        keys in prop::collection::vec(0u32..50, 0..3000), budget in 64u64..20_000
    ) {
        let input: Vec<(u32, u64)> = keys.iter().enumerate().map(|(i, &k)| (k, i as u64)).collect();
        let mut want = input.clone();
        want.sort_by(by_key);
        let (got, _) = sort(&input, budget);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn skewed_input_twenty_times_the_budget_sorts_in_bounded_memory() {
    // 400k records of 16 bytes in memory: 6.4 MB against a 320 KiB budget,
    // nine in ten records with one key.
    let input: Vec<(u32, u64)> = (0..400_000u64)
        .map(|i| {
            (
                if i % 10 == 0 {
                    (i * 7919 % 1000) as u32
                } else {
                    500
                },
                i,
            )
        })
        .collect();
    let budget = 320 << 10;
    let mut want = input.clone();
    want.sort_by(by_key);
    let (got, stats) = sort(&input, budget);
    assert!(got == want, "not a stable sort");
    assert!(stats.spill_files >= 10, "{stats:?}");
    assert!(stats.spilled_bytes >= 400_000 * 12, "{stats:?}");
    assert!(stats.peak_held <= budget, "{stats:?}");
}

#[test]
fn small_inputs_never_touch_disk() {
    let input: Vec<(u32, u64)> = (0..1000u64).map(|i| ((i % 7) as u32, i)).collect();
    let (got, stats) = sort(&input, 1 << 20);
    assert_eq!(got.len(), 1000);
    assert_eq!(stats.spill_files, 0);
    assert_eq!(stats.spilled_bytes, 0);
}

#[test]
fn byte_records_sort_by_key_keeping_input_order() {
    let pool = MemoryPool::new(2048, 1);
    let work = tempfile::tempdir().unwrap();
    let spill = SpillSpace::new(work.path(), pool.clone());
    let task = pool.task();
    let cmp = |a: &(Vec<u8>, Vec<u8>), b: &(Vec<u8>, Vec<u8>)| a.0.cmp(&b.0);
    let mut sorter = ExternalSorter::new(KeyValueCodec, cmp, &task, &spill, SortOptions::default());
    let words = ["pear", "apple", "fig", "apple", "", "fig"];
    let mut want = Vec::new();
    for round in 0..200 {
        for word in words {
            let record = (word.as_bytes().to_vec(), format!("{round}").into_bytes());
            want.push(record.clone());
            sorter.push(record).unwrap();
        }
    }
    assert!(sorter.runs() > 2);
    want.sort_by(cmp);
    let got: Vec<_> = sorter.finish().unwrap().flat_map(|b| b.unwrap()).collect();
    assert!(got == want);
}

/// Spill files this process still has open (anonymous ones show as
/// "(deleted)" links below /proc/self/fd).
fn open_spill_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

#[test]
fn run_files_close_when_consumed_or_dropped_and_leave_no_names() {
    let work = tempfile::tempdir().unwrap();
    let pool = MemoryPool::new(4096, 1);
    let spill = SpillSpace::new(work.path(), pool.clone());
    let task = pool.task();
    let input: Vec<(u32, u64)> = (0..20_000u64).map(|i| ((i * 31 % 977) as u32, i)).collect();
    let sorted = |input: &[(u32, u64)]| {
        let mut s = ExternalSorter::new(PairCodec, by_key, &task, &spill, SortOptions::default());
        s.extend(input.iter().copied()).unwrap();
        s.finish().unwrap()
    };
    // Read to the end: every run closed.
    let stream = sorted(&input);
    assert!(open_spill_files(work.path()) > 0, "expected runs on disk");
    assert_eq!(stream.map(|b| b.unwrap().len()).sum::<usize>(), 20_000);
    assert_eq!(open_spill_files(work.path()), 0);
    // Abandoned half-way (a cancelled task): closed when dropped.
    let mut stream = sorted(&input);
    stream.next().unwrap().unwrap();
    drop(stream);
    assert_eq!(open_spill_files(work.path()), 0);
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "no names"
    );
}
