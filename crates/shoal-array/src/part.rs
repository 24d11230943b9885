//! One partition's elements as a task sees them: owned, or a shared
//! range of an in-memory source that is never copied up front.
//!
//! Sources built from a vector hand every task a range of one shared
//! vector. Copying that range before looking at it costs as much as
//! aggregating it (fresh pages, memory bandwidth), so consumers that only
//! read (`collect`, `save`, sampling, folds, hash routing) borrow or
//! stream it, and only consumers that must own the elements (sorting,
//! `map_partitions`) copy.

use std::ops::Range;
use std::sync::Arc;

use shoal_core::TaskError;

/// A partition's elements.
pub(crate) enum Part<T> {
    /// Elements this task owns.
    Owned(Vec<T>),
    /// A range of a vector shared by the tasks.
    Shared(Arc<Vec<T>>, Range<usize>),
}

impl<T: Clone> Part<T> {
    /// The elements as a slice, without copying.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Part::Owned(items) => items,
            Part::Shared(items, range) => &items[range.clone()],
        }
    }

    /// How many elements.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The elements as an owned vector (copied when shared).
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Part::Owned(items) => items,
            Part::Shared(items, range) => items[range].to_vec(),
        }
    }

    /// The elements `range` (relative, clamped), without copying shared ones.
    pub fn sub(self, range: Range<usize>) -> Part<T> {
        let len = self.len();
        let (start, end) = (
            range.start.min(len),
            range.end.clamp(range.start.min(len), len),
        );
        match self {
            Part::Owned(mut items) => {
                items.truncate(end);
                items.drain(..start);
                Part::Owned(items)
            }
            Part::Shared(items, r) => Part::Shared(items, r.start + start..r.start + end),
        }
    }
}

/// Streams a partition's elements by value.
pub(crate) enum PartIter<T> {
    /// Moving out of an owned vector.
    Owned(std::vec::IntoIter<T>),
    /// Cloning out of a shared vector.
    Shared(Arc<Vec<T>>, Range<usize>),
}

impl<T: Clone> Iterator for PartIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            PartIter::Owned(items) => items.next(),
            PartIter::Shared(items, range) => range.next().map(|i| items[i].clone()),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            PartIter::Owned(items) => items.size_hint(),
            PartIter::Shared(_, range) => range.size_hint(),
        }
    }
}

impl<T: Clone> IntoIterator for Part<T> {
    type Item = T;
    type IntoIter = PartIter<T>;

    fn into_iter(self) -> PartIter<T> {
        match self {
            Part::Owned(items) => PartIter::Owned(items.into_iter()),
            Part::Shared(items, range) => PartIter::Shared(items, range),
        }
    }
}

/// Batches of a partition produced lazily; an error ends the stream.
pub(crate) type Batches<T> = Box<dyn Iterator<Item = Result<Vec<T>, TaskError>>>;

/// Elements per batch when a partition is produced or cut lazily.
pub(crate) const BATCH: usize = 1 << 16;

/// A partition as a consumer receives it: ready in memory, or a stream of
/// batches produced on demand (generated ranges, spilled sorts), so that
/// partitions larger than memory flow through consumers that stream
/// (`map`, `filter`, `flat_map`, folds, `collect`, sorting) without ever
/// being whole in memory. Consumers that need every element at once call
/// [`Flow::part`].
pub(crate) enum Flow<T> {
    /// Materialised.
    Ready(Part<T>),
    /// Produced batch by batch.
    Stream(Batches<T>),
}

impl<T: Clone + 'static> Flow<T> {
    /// Every element in memory.
    pub fn part(self) -> Result<Part<T>, TaskError> {
        match self {
            Flow::Ready(part) => Ok(part),
            Flow::Stream(batches) => {
                let mut out = Vec::new();
                for batch in batches {
                    let batch = batch?;
                    if out.is_empty() {
                        out = batch;
                    } else {
                        out.extend(batch);
                    }
                }
                Ok(Part::Owned(out))
            }
        }
    }

    /// The elements as batches (a shared range is cloned batch by batch).
    pub fn batches(self) -> Batches<T> {
        match self {
            Flow::Stream(batches) => batches,
            Flow::Ready(Part::Owned(items)) => Box::new(std::iter::once(Ok(items))),
            Flow::Ready(Part::Shared(items, range)) => {
                let starts = range.clone().step_by(BATCH);
                Box::new(
                    starts.map(move |start| {
                        Ok(items[start..(start + BATCH).min(range.end)].to_vec())
                    }),
                )
            }
        }
    }

    /// Applies `f` to every batch: eagerly when ready, lazily when streamed.
    pub fn map_batches<U: 'static>(self, f: impl Fn(Vec<T>) -> Vec<U> + 'static) -> Flow<U> {
        match self {
            Flow::Stream(batches) => Flow::Stream(Box::new(batches.map(move |b| b.map(&f)))),
            ready => match ready.part() {
                Ok(part) => Flow::Ready(Part::Owned(f(part.into_vec()))),
                Err(err) => Flow::Stream(Box::new(std::iter::once(Err(err)))),
            },
        }
    }

    /// Calls `f` on every element in order.
    pub fn for_each(self, mut f: impl FnMut(T)) -> Result<(), TaskError> {
        match self {
            Flow::Ready(Part::Shared(items, range)) => {
                items[range].iter().cloned().for_each(f);
            }
            other => {
                for batch in other.batches() {
                    batch?.into_iter().for_each(&mut f);
                }
            }
        }
        Ok(())
    }

    /// How many elements (consumes a stream).
    pub fn count(self) -> Result<usize, TaskError> {
        match self {
            Flow::Ready(part) => Ok(part.len()),
            Flow::Stream(batches) => batches.map(|b| b.map(|b| b.len())).sum(),
        }
    }
}
