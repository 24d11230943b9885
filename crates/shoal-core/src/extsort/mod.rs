//! External merge sort: sort more records than memory holds, stably.
//!
//! One implementation for every sort in Shoal — `DistArray::sort`, keyed
//! operations that restore first-appearance order after spilling, and
//! byte records (`shoal map`'s key/value lines). It is generic over the
//! record type, its [`RunCodec`] (how records become bytes in a spill
//! file) and a comparator.
//!
//! ```text
//! push ──▶ buffer (reserved from the task's memory) ──full──▶ sort ──▶ run file
//!                                                                  (anonymous, --work-dir)
//! finish ─┬─ no run written: sort the buffer, hand it out (nothing touches disk)
//!         └─ else: last run; merge runs k-way (fan-in bounded by memory,
//!            more passes when needed); records stream out in batches
//! ```
//!
//! **Stable**: records that compare equal come out in the order they were
//! pushed (runs are sorted stably and merges break ties by run order), so
//! e.g. equal keys keep input order. With [`SortOptions::stable`] off an
//! unstable sort is used, for records whose equal values are
//! indistinguishable (plain integers).
//!
//! **Memory**: the buffer grows only while its [`Reservation`] is granted;
//! a refusal spills the buffer as a sorted run. Merging reserves one
//! frame per run it reads. The few bytes needed to make progress at all
//! (one record, two runs to merge) are taken even past the budget.
//!
//! Byte records, as `shoal map` sorts them (key bytes, equal keys in input
//! order, beyond memory in runs):
//!
//! ```
//! use shoal_core::extsort::{ExternalSorter, KeyValueCodec, SortOptions};
//! use shoal_core::{MemoryPool, SpillSpace};
//!
//! let pool = MemoryPool::new(4096, 1); // tiny: forces runs on disk
//! let task = pool.task();
//! let work = tempfile::tempdir().unwrap();
//! let spill = SpillSpace::new(work.path(), pool.clone());
//! let mut sorter = ExternalSorter::new(
//!     KeyValueCodec,
//!     |a: &(Vec<u8>, Vec<u8>), b: &(Vec<u8>, Vec<u8>)| a.0.cmp(&b.0),
//!     &task,
//!     &spill,
//!     SortOptions::default(),
//! );
//! for i in 0..1000u32 {
//!     let key = format!("k{:03}", i % 100).into_bytes();
//!     sorter.push((key, i.to_string().into_bytes())).unwrap();
//! }
//! let mut out = Vec::new();
//! for batch in sorter.finish().unwrap() {
//!     out.extend(batch.unwrap());
//! }
//! assert_eq!(out.len(), 1000);
//! assert_eq!(out[0], (b"k000".to_vec(), b"0".to_vec()));
//! assert_eq!(out[1], (b"k000".to_vec(), b"100".to_vec())); // input order kept
//! assert!(pool.stats().spill_files > 1);
//! ```

mod codec;
mod merge;
mod run;

use std::cmp::Ordering;
use std::sync::Arc;

pub use codec::{KeyValueCodec, RunCodec};
pub use merge::{merge_sorted, BatchSource, Compare, SortedStream};
pub use run::{RunReader, RunWriter};

use crate::{Reservation, SpillFile, SpillSpace, TaskError, TaskMemory};

/// How an [`ExternalSorter`] sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortOptions {
    /// Keep equal records in push order (default true).
    pub stable: bool,
    /// Records per batch handed out by a merge (default 8192).
    pub batch: usize,
}

impl Default for SortOptions {
    fn default() -> Self {
        SortOptions {
            stable: true,
            batch: 8192,
        }
    }
}

/// Sorts records pushed one by one, spilling sorted runs to the work
/// directory when its memory is refused. See the [module docs](self).
pub struct ExternalSorter<T, C, F> {
    codec: C,
    cmp: Arc<F>,
    options: SortOptions,
    memory: TaskMemory,
    spill: SpillSpace,
    buffer: Vec<T>,
    /// Estimated bytes the buffer holds (capacity and heap parts).
    used: u64,
    reservation: Reservation,
    /// Smallest reservation step.
    step: u64,
    runs: Vec<SpillFile>,
    /// Target bytes of one frame in a run file.
    frame: usize,
    /// A faster in-memory sort agreeing with the comparator, if any.
    in_memory_sort: Option<fn(&mut Vec<T>)>,
}

/// Bytes a buffer growing from `capacity` to hold `len` records adds.
fn growth(capacity: usize, len: usize) -> usize {
    if len <= capacity {
        0
    } else {
        (capacity * 2).max(len).max(16) - capacity
    }
}

impl<T, C, F> ExternalSorter<T, C, F>
where
    T: Send + 'static,
    C: RunCodec<Item = T> + Clone + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    /// A sorter drawing on `memory` and spilling to `spill`.
    pub fn new(
        codec: C,
        cmp: F,
        memory: &TaskMemory,
        spill: &SpillSpace,
        options: SortOptions,
    ) -> Self {
        let floor = memory.pool().task_floor();
        ExternalSorter {
            codec,
            cmp: Arc::new(cmp),
            options,
            memory: memory.clone(),
            spill: spill.clone(),
            buffer: Vec::new(),
            used: 0,
            reservation: memory.reservation(),
            step: (floor / 16).clamp(64, 1 << 20),
            runs: Vec::new(),
            frame: (floor / 8).clamp(512, 256 << 10) as usize,
            in_memory_sort: None,
        }
    }

    /// Sorts buffers with `sort` instead of the comparator: a faster
    /// routine giving the same order (a radix sort for plain integers),
    /// which may use scratch space as large as the buffer (it is
    /// accounted). It must be stable if the sorter is.
    pub fn with_in_memory_sort(mut self, sort: fn(&mut Vec<T>)) -> Self {
        self.in_memory_sort = Some(sort);
        self
    }

    /// Bytes one slot of the buffer costs: the record itself and the
    /// scratch space sorting it needs (half a record for the standard
    /// stable sort, a whole one for an in-memory sort such as radix).
    fn slot_bytes(&self) -> u64 {
        let size = std::mem::size_of::<T>().max(1) as u64;
        if self.in_memory_sort.is_some() {
            2 * size
        } else if self.options.stable {
            size + size / 2
        } else {
            size
        }
    }

    /// Makes sure `extra` more bytes are reserved beyond what is used;
    /// false when the pool refuses them.
    fn try_cover(&mut self, extra: u64) -> bool {
        let want = self.used + extra;
        want <= self.reservation.size()
            || self
                .reservation
                .try_grow((want - self.reservation.size()).max(self.step))
    }

    /// Adds one record.
    pub fn push(&mut self, item: T) -> Result<(), TaskError> {
        let mut need = self.codec.heap_size(&item) as u64;
        if self.buffer.len() == self.buffer.capacity() {
            let grown = (self.buffer.capacity() * 2).max(16);
            need += (grown - self.buffer.capacity()) as u64 * self.slot_bytes();
        }
        if self.used + need > self.reservation.size() {
            let short = self.used + need - self.reservation.size();
            if !self.reservation.try_grow(short.max(self.step)) {
                if !self.buffer.is_empty() {
                    self.spill_run()?;
                    return self.push(item);
                }
                // One record must fit to make progress at all.
                self.reservation.grow(short);
            }
        }
        if self.buffer.len() == self.buffer.capacity() {
            let grown = (self.buffer.capacity() * 2).max(16);
            self.buffer.reserve_exact(grown - self.buffer.len());
        }
        self.used += need;
        self.buffer.push(item);
        Ok(())
    }

    /// Adds a batch of records with one memory check for all of them: an
    /// empty buffer adopts the vector (no copy), a non-empty one appends
    /// it (a copy, no per-record work); when the memory is refused the
    /// buffer is spilled first, and a batch too large for the memory on
    /// its own is taken record by record.
    pub fn push_batch(&mut self, mut items: Vec<T>) -> Result<(), TaskError> {
        if items.is_empty() {
            return Ok(());
        }
        let heap: u64 = items.iter().map(|i| self.codec.heap_size(i) as u64).sum();
        if self.buffer.is_empty() {
            let need = items.capacity() as u64 * self.slot_bytes() + heap;
            if self.reservation.try_resize(need) {
                self.used = need;
                self.buffer = items;
                return Ok(());
            }
            return self.extend(items);
        }
        let grow = growth(self.buffer.capacity(), self.buffer.len() + items.len());
        let need = grow as u64 * self.slot_bytes() + heap;
        if !self.try_cover(need) {
            self.spill_run()?;
            return self.push_batch(items);
        }
        self.buffer.reserve_exact(grow);
        self.buffer.append(&mut items);
        self.used += need;
        Ok(())
    }

    /// Adds `count` records encoded by the sorter's codec in `bytes`,
    /// decoding them straight into the buffer (no intermediate vector);
    /// `heap` estimates the bytes they hold beyond their inline size.
    pub fn push_encoded(&mut self, bytes: &[u8], count: usize, heap: u64) -> Result<(), TaskError> {
        if count == 0 {
            return Ok(());
        }
        let grow = growth(self.buffer.capacity(), self.buffer.len() + count);
        let need = grow as u64 * self.slot_bytes() + heap;
        if !self.try_cover(need) {
            if !self.buffer.is_empty() {
                self.spill_run()?;
                return self.push_encoded(bytes, count, heap);
            }
            // One batch must fit to make progress at all.
            let short = self.used + need - self.reservation.size();
            self.reservation.grow(short);
        }
        self.buffer.reserve_exact(grow);
        self.codec
            .decode(bytes, count, &mut self.buffer)
            .map_err(|e| TaskError::fatal(format!("decoding records to sort: {e}")))?;
        self.used += need;
        Ok(())
    }

    /// Room for `additional` more records, reserved up front when the
    /// memory allows (saves the buffer's regrowth copies); nothing
    /// happens otherwise.
    pub fn reserve(&mut self, additional: usize) {
        let grow = (self.buffer.len() + additional).saturating_sub(self.buffer.capacity());
        if grow > 0 && self.try_cover(grow as u64 * self.slot_bytes()) {
            self.buffer.reserve_exact(grow);
            self.used += grow as u64 * self.slot_bytes();
        }
    }

    /// Adds every record of `items`.
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) -> Result<(), TaskError> {
        for item in items {
            self.push(item)?;
        }
        Ok(())
    }

    /// Runs written to disk so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn sort_buffer(&mut self) {
        if let Some(sort) = self.in_memory_sort {
            sort(&mut self.buffer);
            return;
        }
        let cmp = &*self.cmp;
        if self.options.stable {
            self.buffer.sort_by(cmp);
        } else {
            self.buffer.sort_unstable_by(cmp);
        }
    }

    /// Sorts the buffer, writes it as a run and frees its memory.
    fn spill_run(&mut self) -> Result<(), TaskError> {
        self.sort_buffer();
        let items = std::mem::take(&mut self.buffer);
        let run = run::write_run(&self.spill, &self.codec, items, self.frame)?;
        self.runs.push(run);
        self.used = 0;
        self.reservation.free();
        Ok(())
    }

    /// Ends pushing: the records in order, as batches.
    pub fn finish(mut self) -> Result<SortedStream<T>, TaskError> {
        if self.runs.is_empty() {
            self.sort_buffer();
            let items = std::mem::take(&mut self.buffer);
            return Ok(SortedStream::in_memory(items, self.reservation));
        }
        if !self.buffer.is_empty() {
            self.spill_run()?;
        }
        self.reservation.free();
        let sources: Vec<Box<dyn BatchSource<T>>> = std::mem::take(&mut self.runs)
            .into_iter()
            .map(|run| Box::new(RunReader::new(run, self.codec.clone())) as Box<dyn BatchSource<T>>)
            .collect();
        merge_sorted(
            sources,
            self.cmp.clone(),
            self.codec.clone(),
            &self.memory,
            &self.spill,
            self.options.batch,
            self.frame,
        )
    }
}
