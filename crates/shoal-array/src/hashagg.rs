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

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

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
pub(crate) enum Mode<K, S> {
    /// Map side: emit early under memory pressure; tables come from and
    /// go back to the spares shared by the stage's tasks.
    Partial(Arc<Spares<K, S>>),
    /// Reduce side: exact results, spilling under memory pressure.
    Final,
}

/// One entry of a [`Table`]: a key, its state and the position at which
/// it first appeared. Flat (not a map of key → (position, state), whose
/// nested tuple pads to 24 bytes for a `(u32, u64)` row): 16 bytes then,
/// so a table of a million keys is a third smaller and misses the cache
/// less.
struct Slot<K, S> {
    key: K,
    at: u32,
    state: S,
}

/// The hash table of a [`Table`].
type Map<K, S> = HashTable<Slot<K, S>>;

/// Keys a table holds at most: positions are `u32`.
const MAX_KEYS: usize = u32::MAX as usize;

/// Emptied map-side tables kept for the next task of the same
/// aggregation. A map task's table grows to the number of distinct keys
/// in its partition; building it again in fresh memory for every task
/// (page faults of tens of MB, rehashing as it grows) cost about as much
/// as filling it. At most one table per task running at once is ever
/// made, so the spares are bounded by the threads; an idle spare is not
/// counted against the budget, a reused one is (its whole capacity).
pub(crate) struct Spares<K, S>(Mutex<Vec<Map<K, S>>>);

impl<K, S> Spares<K, S> {
    /// No spares yet.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Spares(Mutex::new(Vec::new())))
    }

    fn take(&self) -> Option<Map<K, S>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put(&self, mut map: Map<K, S>) {
        map.clear();
        let mut spares = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < MAX_SPARES {
            spares.push(map);
        }
    }
}

/// Spare tables kept at most (more tasks than this never run at once on
/// the machines Shoal targets; beyond it a table is freed).
const MAX_SPARES: usize = 16;

/// An insertion-ordered hash table of (key, state) with its reservation.
/// Each key's state lives in the table itself, beside the key's position
/// in order of first appearance: one random access per row (a separate
/// entry vector cost a second cache miss), the order restored by a
/// scatter when the table is taken.
struct Table<K, S> {
    map: Map<K, S>,
    /// Fixed seeds: the same input gives the same table on every run.
    hasher: ahash::RandomState,
    bytes: u64,
    /// Bytes of the map's capacity when it came from the spares (counted
    /// until the table is taken), else 0.
    spare_bytes: u64,
    reservation: Reservation,
}

impl<K: Element + Hash + Eq, S: Element> Table<K, S> {
    fn new(memory: &TaskMemory) -> Self {
        Table {
            map: HashTable::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
            bytes: 0,
            spare_bytes: 0,
            reservation: memory.reservation(),
        }
    }

    /// A table in a spare map when there is one and the task's memory
    /// has room for all of its capacity; else a new one.
    fn reusing(memory: &TaskMemory, spares: &Spares<K, S>) -> Self {
        let mut table = Table::new(memory);
        if let Some(map) = spares.take() {
            let bytes = map.capacity() as u64 * Self::entry_bytes();
            if table.reservation.try_grow(bytes) {
                table.map = map;
                table.spare_bytes = bytes;
            }
        }
        table
    }

    /// Bytes of one new entry: the entry, its control byte and slack for
    /// the table's load factor.
    fn entry_bytes() -> u64 {
        (std::mem::size_of::<Slot<K, S>>() * 8 / 7 + 2) as u64
    }

    fn add<C: Combine<S>>(&mut self, key: K, state: S, combine: &C) {
        self.bytes += combine.weigh(&state);
        let next = self.map.len() as u32;
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&key);
        let same = |slot: &Slot<K, S>| slot.key == key;
        match self
            .map
            .entry(hash, same, |slot| hasher.hash_one(&slot.key))
        {
            Entry::Occupied(mut slot) => combine.merge(&mut slot.get_mut().state, state),
            Entry::Vacant(vacant) => {
                self.bytes += Self::entry_bytes();
                vacant.insert(Slot {
                    key,
                    at: next,
                    state,
                });
            }
        }
    }

    /// Whether the table may keep growing (positions must fit a `u32`,
    /// far beyond any memory budget: a batch adds at most `BATCH` keys).
    fn fits(&mut self) -> bool {
        if self.map.len() > MAX_KEYS - BATCH {
            return false;
        }
        let held = self.bytes.max(self.spare_bytes);
        self.map.len() <= 1 || self.reservation.try_resize(held)
    }

    /// The entries in order of first appearance; the table starts again,
    /// its memory freed.
    fn take(&mut self) -> Vec<(K, S)> {
        let entries = self.drain();
        let hasher = &self.hasher;
        self.map.shrink_to_fit(|slot| hasher.hash_one(&slot.key));
        self.spare_bytes = 0;
        self.reservation.free();
        entries
    }

    /// The entries in order of first appearance; the map keeps its
    /// capacity (for the spares).
    fn drain(&mut self) -> Vec<(K, S)> {
        let len = self.map.len();
        let mut entries: Vec<(K, S)> = Vec::with_capacity(len);
        let slots = &mut entries.spare_capacity_mut()[..len];
        let mut written = 0;
        for Slot { key, at, state } in self.map.drain() {
            // Positions are 0..len, each once: an entry's is the map's
            // length when it was inserted, and entries are only removed
            // all at once, here. (A slice index: out of range panics.)
            slots[at as usize].write((key, state));
            written += 1;
        }
        assert_eq!(written, len, "the map drained fewer entries than it held");
        // SAFETY: `len` entries were written at `len` distinct positions
        // below `len` (see above), so every slot of 0..len is initialised.
        unsafe { entries.set_len(len) };
        self.bytes = 0;
        entries
    }

    /// The entries in order of first appearance; the emptied map goes to
    /// the spares and its memory to the pool.
    fn finish(mut self, spares: &Spares<K, S>) -> Vec<(K, S)> {
        let entries = self.drain();
        spares.put(self.map);
        entries
    }
}

/// Aggregates `input` in `mode`, merging states of equal keys.
pub(crate) fn aggregate<K, S, C>(
    ctx: &TaskContext<'_>,
    input: Flow<(K, S)>,
    combine: Arc<C>,
    mode: Mode<K, S>,
) -> Result<Flow<(K, S)>, TaskError>
where
    K: Element + Hash + Eq,
    S: Element,
    C: Combine<S>,
{
    let memory = ctx.memory().clone();
    let spill = ctx.spill_space().clone();
    match mode {
        Mode::Partial(spares) => Ok(Flow::Stream(Box::new(PartialAgg {
            input: Some(PartialInput::of(input)),
            table: Some(Table::reusing(&memory, &spares)),
            combine,
            spares,
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
    /// `None` once finished (the map went back to the spares).
    table: Option<Table<K, S>>,
    combine: Arc<C>,
    spares: Arc<Spares<K, S>>,
}

impl<K: Element + Hash + Eq, S: Element, C: Combine<S>> Iterator for PartialAgg<K, S, C> {
    type Item = Result<Vec<(K, S)>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (Some(input), Some(table)) = (self.input.as_mut(), self.table.as_mut()) else {
                return None;
            };
            let combine = &*self.combine;
            match input.feed(|(key, state)| table.add(key, state, combine)) {
                Ok(true) => {
                    if !table.fits() {
                        return Some(Ok(table.take()));
                    }
                }
                Err(err) => return Some(Err(err)),
                Ok(false) => {
                    self.input = None;
                    let rest = self.table.take()?.finish(&self.spares);
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
