//! Element access by global index: `get`, `slice`, `take`.
//!
//! A global index maps to a partition through the per-partition lengths,
//! so `get(i)` computes only the partition holding `i`: for a source or a
//! saved array that means reading one partition and nothing else.

use std::ops::Range;

use shoal_core::Bytes;

use crate::array::{decode_result, encode_blob, starts};
use crate::codec::Element;
use crate::part::Flow;
use crate::{ArrayError, DistArray};

impl<T: Element> DistArray<T> {
    /// The element at global index `index` (partition order).
    pub fn get(&self, index: u64) -> Result<T, ArrayError> {
        let lengths = self.partition_lengths()?;
        let starts = starts(&lengths);
        let len = *starts.last().unwrap_or(&0);
        if index >= len {
            return Err(ArrayError::IndexOutOfBounds { index, len });
        }
        // The last partition whose start is <= index and which is not empty.
        let part = starts.partition_point(|&s| s <= index) - 1;
        let offset = (index - starts[part]) as usize;
        let target = part as u32;
        let action = self.action(
            "get",
            move |ctx, compute| {
                if ctx.partition() != target {
                    return Ok(Bytes::new());
                }
                let items = compute(ctx)?.part()?;
                encode_blob(items.as_slice().get(offset..offset + 1).unwrap_or_default())
            },
            move |results| {
                let blob = results.get(part).cloned().unwrap_or_default();
                decode_result::<T>(&blob, part)?
                    .pop()
                    .ok_or(ArrayError::IndexOutOfBounds { index, len })
            },
        );
        self.session.execute(action)
    }

    /// The elements with global indices in `range` (clamped to the array),
    /// lazily; partitions are kept, so some may become empty.
    pub fn slice(&self, range: Range<u64>) -> Result<DistArray<T>, ArrayError> {
        let lengths = self.partition_lengths()?;
        let starts = starts(&lengths);
        let kept: Vec<Range<usize>> = lengths
            .iter()
            .enumerate()
            .map(|(p, _)| {
                let (lo, hi) = (starts[p], starts[p + 1]);
                let a = range.start.clamp(lo, hi) - lo;
                let b = range.end.clamp(lo, hi) - lo;
                a as usize..(b.max(a)) as usize
            })
            .collect();
        let new_lengths: Vec<u64> = kept.iter().map(|r| r.len() as u64).collect();
        let sliced = self.narrow(false, move |p, items| {
            Ok(Flow::Ready(items.part()?.sub(kept[p as usize].clone())))
        });
        let _ = sliced.lengths.set(new_lengths.into());
        Ok(sliced)
    }

    /// The first `n` elements (fewer if the array is shorter).
    pub fn take(&self, n: u64) -> Result<Vec<T>, ArrayError> {
        self.slice(0..n)?.collect()
    }
}
