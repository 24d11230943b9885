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

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use shoal_core::extsort::{ExternalSorter, SortOptions, SortedStream};
use shoal_core::{Reservation, SpillSpace, TaskContext, TaskError, TaskMemory};

use crate::codec::Element;
use crate::keyed::key_hash;
use crate::part::{Batches, Flow, Part, BATCH};
use crate::runs::ArrayCodec;

/// How states of one key combine. A trait, not boxed closures, so that
/// the per-row work inlines.
pub(crate) trait Combine<S>: Send + Sync + 'static {
    /// Merges a partial state into the state of the same key.
    fn merge(&self, into: &mut S, from: S);

    /// Heap bytes a state holds beyond its inline size (estimate).
    fn weigh(&self, _state: &S) -> u64 {
        0
    }
}

/// `reduce_by_key`: states are values combined with `f`.
pub(crate) struct Reduce<F>(pub F);

impl<V, F: Fn(&V, &V) -> V + Send + Sync + 'static> Combine<V> for Reduce<F> {
    fn merge(&self, into: &mut V, from: V) {
        *into = (self.0)(into, &from);
    }
}

/// `group_by_key`: states are value lists, concatenated.
pub(crate) struct Concat;

impl<V> Combine<Vec<V>> for Concat {
    fn merge(&self, into: &mut Vec<V>, from: Vec<V>) {
        into.extend(from);
    }

    fn weigh(&self, state: &Vec<V>) -> u64 {
        (state.len() * std::mem::size_of::<V>()) as u64
    }
}

/// `distinct`: no state, only keys.
pub(crate) struct Keep;

impl Combine<()> for Keep {
    fn merge(&self, _into: &mut (), _from: ()) {}
}

/// Partial or final aggregation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Map side: emit early under memory pressure.
    Partial,
    /// Reduce side: exact results, spilling under memory pressure.
    Final,
}

/// An insertion-ordered hash table of (key, state) with its reservation.
/// Each key's state lives in the table itself, beside the key's position
/// in order of first appearance: one random access per row (a separate
/// entry vector cost a second cache miss), the order restored by a
/// scatter when the table is taken.
struct Table<K, S> {
    map: HashMap<K, (usize, S), ahash::RandomState>,
    bytes: u64,
    reservation: Reservation,
}

impl<K: Element + Hash + Eq, S: Element> Table<K, S> {
    fn new(memory: &TaskMemory) -> Self {
        Table {
            map: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            bytes: 0,
            reservation: memory.reservation(),
        }
    }

    /// Bytes of one new entry: the entry, its control byte and slack for
    /// the table's load factor.
    fn entry_bytes() -> u64 {
        (std::mem::size_of::<(K, (usize, S))>() * 8 / 7 + 2) as u64
    }

    fn add<C: Combine<S>>(&mut self, key: K, state: S, combine: &C) {
        self.bytes += combine.weigh(&state);
        let next = self.map.len();
        match self.map.entry(key) {
            Entry::Occupied(mut at) => combine.merge(&mut at.get_mut().1, state),
            Entry::Vacant(slot) => {
                self.bytes += Self::entry_bytes();
                slot.insert((next, state));
            }
        }
    }

    /// Whether the table may keep growing.
    fn fits(&mut self) -> bool {
        self.map.len() <= 1 || self.reservation.try_resize(self.bytes)
    }

    /// The entries in order of first appearance; the table starts again.
    fn take(&mut self) -> Vec<(K, S)> {
        let mut slots: Vec<Option<(K, S)>> = Vec::new();
        slots.resize_with(self.map.len(), || None);
        for (key, (at, state)) in self.map.drain() {
            slots[at] = Some((key, state));
        }
        self.map.shrink_to_fit();
        self.bytes = 0;
        self.reservation.free();
        let mut entries = Vec::with_capacity(slots.len());
        entries.extend(slots.into_iter().flatten());
        entries
    }
}

/// Aggregates `input` in `mode`, merging states of equal keys.
pub(crate) fn aggregate<K, S, C>(
    ctx: &TaskContext<'_>,
    input: Flow<(K, S)>,
    combine: Arc<C>,
    mode: Mode,
) -> Result<Flow<(K, S)>, TaskError>
where
    K: Element + Hash + Eq,
    S: Element,
    C: Combine<S>,
{
    let memory = ctx.memory().clone();
    let spill = ctx.spill_space().clone();
    match mode {
        Mode::Partial => Ok(Flow::Stream(Box::new(PartialAgg {
            input: Some(PartialInput::of(input)),
            table: Table::new(&memory),
            combine,
        }))),
        Mode::Final => final_aggregate(input, combine, &memory, &spill),
    }
}

/// What a partial aggregation reads: a shared in-memory range, read in
/// place a batch at a time (copying it first would cost as much as
/// aggregating it), or batches.
enum PartialInput<T> {
    Shared {
        items: Arc<Vec<T>>,
        next: usize,
        end: usize,
    },
    Batches(Batches<T>),
}

impl<T: Clone + 'static> PartialInput<T> {
    fn of(flow: Flow<T>) -> Self {
        match flow {
            Flow::Ready(Part::Shared(items, range)) => PartialInput::Shared {
                items,
                next: range.start,
                end: range.end,
            },
            other => PartialInput::Batches(other.batches()),
        }
    }

    /// Calls `add` on each element of the next batch; false at the end.
    fn feed(&mut self, mut add: impl FnMut(T)) -> Result<bool, TaskError> {
        match self {
            PartialInput::Shared { items, next, end } => {
                if next >= end {
                    return Ok(false);
                }
                let stop = (*next + BATCH).min(*end);
                items[*next..stop].iter().cloned().for_each(add);
                *next = stop;
                Ok(true)
            }
            PartialInput::Batches(batches) => match batches.next() {
                Some(batch) => {
                    batch?.into_iter().for_each(&mut add);
                    Ok(true)
                }
                None => Ok(false),
            },
        }
    }
}

/// Map-side aggregation: emits the table whenever it outgrows memory.
struct PartialAgg<K, S, C> {
    input: Option<PartialInput<(K, S)>>,
    table: Table<K, S>,
    combine: Arc<C>,
}

impl<K: Element + Hash + Eq, S: Element, C: Combine<S>> Iterator for PartialAgg<K, S, C> {
    type Item = Result<Vec<(K, S)>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let input = self.input.as_mut()?;
            let (table, combine) = (&mut self.table, &*self.combine);
            match input.feed(|(key, state)| table.add(key, state, combine)) {
                Ok(true) => {
                    if !self.table.fits() {
                        return Some(Ok(self.table.take()));
                    }
                }
                Err(err) => return Some(Err(err)),
                Ok(false) => {
                    self.input = None;
                    let rest = self.table.take();
                    return (!rest.is_empty()).then_some(Ok(rest));
                }
            }
        }
    }
}

/// Reduce-side aggregation: exact, spilling by routing hash.
fn final_aggregate<K, S, C>(
    input: Flow<(K, S)>,
    combine: Arc<C>,
    memory: &TaskMemory,
    spill: &SpillSpace,
) -> Result<Flow<(K, S)>, TaskError>
where
    K: Element + Hash + Eq,
    S: Element,
    C: Combine<S>,
{
    let mut table = Table::new(memory);
    let mut sorter = None;
    // Keys seen by earlier tables: entry i of the table is key number
    // `seen + i` in order of first appearance.
    let mut seen = 0u64;
    for batch in input.batches() {
        for (key, state) in batch? {
            table.add(key, state, &*combine);
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
        combine,
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
struct HashGroups<K, S, C> {
    sorted: SortedStream<Spilled<K, S>>,
    /// The entries of the current hash (collisions are rare, so a list):
    /// (first appearance, key, state).
    group: Vec<(u64, K, S)>,
    group_hash: u64,
    combine: Arc<C>,
    done: bool,
}

impl<K: Eq, S, C: Combine<S>> HashGroups<K, S, C> {
    /// Merges into the key's entry; the first entry of a key came from
    /// the earliest table (the sort is stable), so it keeps its position.
    fn add(&mut self, first: u64, key: K, state: S) {
        match self.group.iter_mut().find(|(_, k, _)| *k == key) {
            Some((_, _, existing)) => self.combine.merge(existing, state),
            None => self.group.push((first, key, state)),
        }
    }
}

impl<K: Eq, S, C: Combine<S>> Iterator for HashGroups<K, S, C> {
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
