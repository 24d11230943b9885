//! The k-way merge of sorted sources, stable, in bounded memory.
//!
//! Sources are run files or anything else that yields sorted batches
//! (e.g. sorted runs in shuffle blocks). When there are more sources than
//! the memory allows to read at once (one frame each), consecutive groups
//! are first merged into new runs — consecutive, so ties still resolve by
//! source order — until one pass can merge them all.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::extsort::run::{RunReader, RunWriter};
use crate::extsort::RunCodec;
use crate::{Reservation, SpillSpace, TaskError, TaskMemory};

/// The comparator, shared by the merge and its caller.
pub type Compare<T> = Arc<dyn Fn(&T, &T) -> Ordering + Send + Sync>;

/// Yields sorted records in batches.
pub trait BatchSource<T>: Send {
    /// The next non-empty or empty batch; `None` at the end.
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, TaskError>;
}

/// One source being merged and its smallest unread record.
struct Cursor<T> {
    source: Box<dyn BatchSource<T>>,
    batch: std::vec::IntoIter<T>,
    head: Option<T>,
}

impl<T> Cursor<T> {
    fn new(source: Box<dyn BatchSource<T>>) -> Result<Self, TaskError> {
        let mut cursor = Cursor {
            source,
            batch: Vec::new().into_iter(),
            head: None,
        };
        cursor.advance()?;
        Ok(cursor)
    }

    fn advance(&mut self) -> Result<(), TaskError> {
        self.head = self.batch.next();
        while self.head.is_none() {
            match self.source.next_batch()? {
                Some(batch) => {
                    self.batch = batch.into_iter();
                    self.head = self.batch.next();
                }
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// A binary heap of cursor indices ordered by (head record, index): the
/// index breaks ties, which is what keeps the merge stable. Generic over
/// the comparator so that comparisons inline.
struct Merger<T, F: ?Sized> {
    cursors: Vec<Cursor<T>>,
    heap: Vec<usize>,
    cmp: Arc<F>,
}

impl<T, F: Fn(&T, &T) -> Ordering + ?Sized> Merger<T, F> {
    fn new(sources: Vec<Box<dyn BatchSource<T>>>, cmp: Arc<F>) -> Result<Self, TaskError> {
        let cursors = sources
            .into_iter()
            .map(Cursor::new)
            .collect::<Result<Vec<_>, _>>()?;
        let heap = (0..cursors.len())
            .filter(|&i| cursors[i].head.is_some())
            .collect();
        let mut merger = Merger { cursors, heap, cmp };
        for at in (0..merger.heap.len()).rev() {
            merger.sift_down(at);
        }
        Ok(merger)
    }

    fn less(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.cursors[a].head, &self.cursors[b].head);
        match (x, y) {
            (Some(x), Some(y)) => match (self.cmp)(x, y) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => a < b,
            },
            _ => false,
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut smallest = at;
            if left < self.heap.len() && self.less(self.heap[left], self.heap[smallest]) {
                smallest = left;
            }
            if right < self.heap.len() && self.less(self.heap[right], self.heap[smallest]) {
                smallest = right;
            }
            if smallest == at {
                return;
            }
            self.heap.swap(at, smallest);
            at = smallest;
        }
    }

    /// Up to `max` records in order; empty at the end.
    fn next_batch(&mut self, max: usize) -> Result<Vec<T>, TaskError> {
        let mut out = Vec::with_capacity(max.min(1 << 16));
        while out.len() < max {
            let Some(&top) = self.heap.first() else {
                break;
            };
            if self.heap.len() == 1 {
                // One source left: hand its records over without comparing.
                let cursor = &mut self.cursors[top];
                out.extend(cursor.head.take());
                out.extend(cursor.batch.by_ref().take(max - out.len()));
                cursor.advance()?;
                if cursor.head.is_none() {
                    self.heap.clear();
                }
                continue;
            }
            let cursor = &mut self.cursors[top];
            out.extend(cursor.head.take());
            cursor.advance()?;
            if cursor.head.is_none() {
                let last = self.heap.pop().expect("non-empty heap");
                if self.heap.is_empty() {
                    break;
                }
                self.heap[0] = last;
            }
            self.sift_down(0);
        }
        Ok(out)
    }
}

/// Sorted records handed out in batches by [`crate::extsort::ExternalSorter::finish`]
/// or [`merge_sorted`]. Holds its memory reservation until dropped.
pub struct SortedStream<T> {
    state: StreamState<T>,
    _reservation: Reservation,
}

enum StreamState<T> {
    Memory(Option<Vec<T>>),
    // Send: a consumer may feed the stream to a program from a thread of
    // its own (shoal map's reducers).
    Merge(Box<dyn Iterator<Item = Result<Vec<T>, TaskError>> + Send>),
}

/// A merger handing out batches of `batch` records.
struct Batched<T, F: ?Sized> {
    merger: Merger<T, F>,
    batch: usize,
}

impl<T, F: Fn(&T, &T) -> Ordering + ?Sized> Iterator for Batched<T, F> {
    type Item = Result<Vec<T>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.merger.next_batch(self.batch) {
            Ok(out) if out.is_empty() => None,
            other => Some(other),
        }
    }
}

impl<T> SortedStream<T> {
    pub(crate) fn in_memory(items: Vec<T>, reservation: Reservation) -> Self {
        SortedStream {
            state: StreamState::Memory((!items.is_empty()).then_some(items)),
            _reservation: reservation,
        }
    }

    /// Whether every record was sorted in memory (nothing was spilled).
    pub fn is_in_memory(&self) -> bool {
        matches!(self.state, StreamState::Memory(_))
    }
}

impl<T> Iterator for SortedStream<T> {
    type Item = Result<Vec<T>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.state {
            StreamState::Memory(items) => items.take().map(Ok),
            StreamState::Merge(merged) => merged.next(),
        }
    }
}

/// Merges `sources` (each sorted, in source order for ties) into one
/// sorted stream, reading at most as many at once as `memory` allows
/// with one frame of about `frame` bytes each; more are first merged in
/// consecutive groups into runs in `spill`.
pub fn merge_sorted<T, C, F>(
    mut sources: Vec<Box<dyn BatchSource<T>>>,
    cmp: Arc<F>,
    codec: C,
    memory: &TaskMemory,
    spill: &SpillSpace,
    batch: usize,
    frame: usize,
) -> Result<SortedStream<T>, TaskError>
where
    T: Send + 'static,
    C: RunCodec<Item = T> + Clone + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + ?Sized + 'static,
{
    let per_source = 2 * frame as u64 + 2 * std::mem::size_of::<T>() as u64;
    let mut reservation = memory.reservation();
    let mut fan_in = sources.len().max(2);
    while fan_in > 2 && !reservation.try_grow(per_source * fan_in as u64) {
        fan_in /= 2;
    }
    if reservation.size() == 0 {
        // Two sources at a time is the least a merge can do.
        reservation.grow(per_source * 2);
        fan_in = 2;
    }
    while sources.len() > fan_in {
        let mut merged: Vec<Box<dyn BatchSource<T>>> = Vec::new();
        let mut rest = sources.into_iter().peekable();
        while rest.peek().is_some() {
            let group: Vec<_> = rest.by_ref().take(fan_in).collect();
            if group.len() == 1 {
                merged.extend(group);
                continue;
            }
            let mut merger = Merger::new(group, cmp.clone())?;
            let mut writer = RunWriter::new(spill, codec.clone(), frame)?;
            loop {
                let out = merger.next_batch(batch)?;
                if out.is_empty() {
                    break;
                }
                writer.write(&out)?;
            }
            let run = RunReader::new(writer.finish()?, codec.clone());
            merged.push(Box::new(run));
        }
        sources = merged;
    }
    Ok(SortedStream {
        state: StreamState::Merge(Box::new(Batched {
            merger: Merger::new(sources, cmp)?,
            batch,
        })),
        _reservation: reservation,
    })
}
