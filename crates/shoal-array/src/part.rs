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
