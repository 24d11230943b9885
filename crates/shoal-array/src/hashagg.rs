//! Hash aggregation within the task's memory: `reduce_by_key`,
//! `group_by_key` and `distinct` combine `(key, state)` pairs, merging the
//! states of equal keys in input order.
//!
//! - **Partial** (map side): when the table outgrows the task's memory,
//!   its entries are emitted early and the table starts again; the reduce
//!   side combines the partials, so nothing is lost and nothing spills.
//! - **Final** (reduce side): when the table outgrows the task's memory,
//!   its entries go into an external sort keyed by the key's routing hash
//!   (stable: a key's partials stay in input order), the table starts
//!   again, and at the end the sorted runs are merged and equal keys
//!   combined hash group by hash group — the partitioned spilling of
//!   DataFusion's and DuckDB's aggregations, with the k-way merge doing
//!   the partitioning.
//!
//! Keys come out in order of first appearance either way: once spilled,
//! every entry carries the position at which its key first appeared, and
//! a second external sort by that position restores the order — so the
//! output never depends on the memory budget.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use shoal_core::extsort::{ExternalSorter, SortOptions, SortedStream};
use shoal_core::{Reservation, SpillSpace, TaskContext, TaskError, TaskMemory};

use crate::codec::Element;
use crate::keyed::key_hash;
use crate::part::{Batches, Flow, Part, BATCH};
use crate::runs::ArrayCodec;

/// Merges a partial state into the state of the same key.
pub(crate) type Merge<S> = Arc<dyn Fn(&mut S, S) + Send + Sync>;

/// Heap bytes a state holds beyond its inline size (estimate).
pub(crate) type Weigh<S> = Arc<dyn Fn(&S) -> u64 + Send + Sync>;

/// Partial or final aggregation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Map side: emit early under memory pressure.
    Partial,
    /// Reduce side: exact results, spilling under memory pressure.
    Final,
}

/// An insertion-ordered hash table of (key, state) with its reservation.
struct Table<K, S> {
    index: HashMap<K, usize, ahash::RandomState>,
    entries: Vec<(K, S)>,
    bytes: u64,
    reservation: Reservation,
}

impl<K: Element + Hash + Eq, S: Element> Table<K, S> {
    fn new(memory: &TaskMemory) -> Self {
        Table {
            index: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            entries: Vec::new(),
            bytes: 0,
            reservation: memory.reservation(),
        }
    }

    /// Bytes of one new entry: the entry, its index slot and slack.
    fn entry_bytes() -> u64 {
        (std::mem::size_of::<(K, S)>() + std::mem::size_of::<(K, usize)>() + 16) as u64
    }

    fn add(&mut self, key: K, state: S, merge: &Merge<S>, weigh: &Weigh<S>) {
        self.bytes += weigh(&state);
        match self.index.get(&key) {
            Some(&at) => merge(&mut self.entries[at].1, state),
            None => {
                self.bytes += Self::entry_bytes();
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, state));
            }
        }
    }

    /// Whether the table may keep growing.
    fn fits(&mut self) -> bool {
        self.entries.len() <= 1 || self.reservation.try_resize(self.bytes)
    }

    fn take(&mut self) -> Vec<(K, S)> {
        self.index.clear();
        self.index.shrink_to_fit();
        self.bytes = 0;
        self.reservation.free();
        std::mem::take(&mut self.entries)
    }
}

/// Aggregates `input` in `mode`, merging states of equal keys.
pub(crate) fn aggregate<K, S>(
    ctx: &TaskContext<'_>,
    input: Flow<(K, S)>,
    merge: Merge<S>,
    weigh: Weigh<S>,
    mode: Mode,
) -> Result<Flow<(K, S)>, TaskError>
where
    K: Element + Hash + Eq,
    S: Element,
{
    let memory = ctx.memory().clone();
    let spill = ctx.spill_space().clone();
    match mode {
        Mode::Partial => Ok(Flow::Stream(Box::new(PartialAgg {
            input: Some(input.batches()),
            table: Table::new(&memory),
            merge,
            weigh,
        }))),
        Mode::Final => final_aggregate(input, merge, weigh, &memory, &spill),
    }
}

/// Map-side aggregation: emits the table whenever it outgrows memory.
struct PartialAgg<K, S> {
    input: Option<Batches<(K, S)>>,
    table: Table<K, S>,
    merge: Merge<S>,
    weigh: Weigh<S>,
}

impl<K: Element + Hash + Eq, S: Element> Iterator for PartialAgg<K, S> {
    type Item = Result<Vec<(K, S)>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let input = self.input.as_mut()?;
            match input.next() {
                Some(Ok(batch)) => {
                    for (key, state) in batch {
                        self.table.add(key, state, &self.merge, &self.weigh);
                    }
                    if !self.table.fits() {
                        return Some(Ok(self.table.take()));
                    }
                }
                Some(Err(err)) => return Some(Err(err)),
                None => {
                    self.input = None;
                    let rest = self.table.take();
                    return (!rest.is_empty()).then_some(Ok(rest));
                }
            }
        }
    }
}

/// Reduce-side aggregation: exact, spilling by routing hash.
fn final_aggregate<K, S>(
    input: Flow<(K, S)>,
    merge: Merge<S>,
    weigh: Weigh<S>,
    memory: &TaskMemory,
    spill: &SpillSpace,
) -> Result<Flow<(K, S)>, TaskError>
where
    K: Element + Hash + Eq,
    S: Element,
{
    let mut table = Table::new(memory);
    let mut sorter = None;
    // Keys seen by earlier tables: entry i of the table is key number
    // `seen + i` in order of first appearance.
    let mut seen = 0u64;
    for batch in input.batches() {
        for (key, state) in batch? {
            table.add(key, state, &merge, &weigh);
        }
        if !table.fits() {
            let sorter = sorter.get_or_insert_with(|| by_hash(memory, spill));
            seen = flush(&mut table, sorter, seen)?;
        }
    }
    let Some(mut sorter) = sorter else {
        return Ok(Flow::Ready(Part::Owned(table.take())));
    };
    flush(&mut table, &mut sorter, seen)?;
    let groups = HashGroups {
        sorted: sorter.finish()?,
        group: Vec::new(),
        group_hash: 0,
        merge,
        done: false,
    };
    let mut by_first = ExternalSorter::new(
        ArrayCodec::<(u64, K, S)>::new(),
        |a: &(u64, K, S), b: &(u64, K, S)| a.0.cmp(&b.0),
        memory,
        spill,
        SortOptions {
            stable: false,
            ..SortOptions::default()
        },
    );
    for batch in groups {
        by_first.extend(batch?)?;
    }
    let sorted = by_first.finish()?;
    Ok(Flow::Stream(Box::new(sorted.map(|batch| {
        batch.map(|b| b.into_iter().map(|(_, k, s)| (k, s)).collect())
    }))))
}

/// (routing hash, first appearance, key, state).
type Spilled<K, S> = (u64, u64, K, S);

/// Orders spilled entries by routing hash.
type ByHash<K, S> = fn(&Spilled<K, S>, &Spilled<K, S>) -> std::cmp::Ordering;

/// A stable external sort of spilled entries by routing hash.
type HashSorter<K, S> = ExternalSorter<Spilled<K, S>, ArrayCodec<Spilled<K, S>>, ByHash<K, S>>;

fn by_hash<K: Element, S: Element>(memory: &TaskMemory, spill: &SpillSpace) -> HashSorter<K, S> {
    let cmp: ByHash<K, S> = |a, b| a.0.cmp(&b.0);
    ExternalSorter::new(
        ArrayCodec::new(),
        cmp,
        memory,
        spill,
        SortOptions::default(),
    )
}

/// Moves the table's entries into `sorter`; returns the keys seen so far.
fn flush<K: Element + Hash + Eq, S: Element>(
    table: &mut Table<K, S>,
    sorter: &mut HashSorter<K, S>,
    seen: u64,
) -> Result<u64, TaskError> {
    let entries = table.take();
    let count = entries.len() as u64;
    for (i, (key, state)) in entries.into_iter().enumerate() {
        sorter.push((key_hash(&key), seen + i as u64, key, state))?;
    }
    Ok(seen + count)
}

/// Combines equal keys of a hash-sorted stream, one hash group at a time.
struct HashGroups<K, S> {
    sorted: SortedStream<Spilled<K, S>>,
    /// The entries of the current hash (collisions are rare, so a list):
    /// (first appearance, key, state).
    group: Vec<(u64, K, S)>,
    group_hash: u64,
    merge: Merge<S>,
    done: bool,
}

impl<K: Eq, S> HashGroups<K, S> {
    /// Merges into the key's entry; the first entry of a key came from
    /// the earliest table (the sort is stable), so it keeps its position.
    fn add(&mut self, first: u64, key: K, state: S) {
        match self.group.iter_mut().find(|(_, k, _)| *k == key) {
            Some((_, _, existing)) => (self.merge)(existing, state),
            None => self.group.push((first, key, state)),
        }
    }
}

impl<K: Eq, S> Iterator for HashGroups<K, S> {
    type Item = Result<Vec<(u64, K, S)>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(BATCH.min(1024));
        while out.len() < BATCH {
            let batch = match self.sorted.next() {
                Some(Ok(batch)) => batch,
                Some(Err(err)) => return Some(Err(err)),
                None => {
                    self.done = true;
                    out.append(&mut self.group);
                    break;
                }
            };
            for (hash, first, key, state) in batch {
                if hash != self.group_hash {
                    out.append(&mut self.group);
                    self.group_hash = hash;
                }
                self.add(first, key, state);
            }
        }
        (!out.is_empty()).then_some(Ok(out))
    }
}
