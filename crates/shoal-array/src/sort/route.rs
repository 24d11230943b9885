//! Sorting an array whose partitions are already in memory (vector
//! sources): reading a partition again computes nothing, so the input is
//! read twice — once to sample it, once to route it — and sorted once.
//!
//! ```text
//! sort-sample (P tasks)  length + seeded sample of each partition      ──results──┐
//! sort-route  (P tasks)  boundaries from all samples; every element goes  ◀───────┘
//!                        to the bucket of its key range, in input order  ──range shuffle──┐
//! reader      (P tasks)  sorts its pieces (map order, so ties keep input  ◀───────────────┘
//!                        order) in memory, or in runs on disk beyond it
//! ```
//!
//! Routing is a stable counting sort of each batch by bucket; for plain
//! integers the bucket of a value is a binary search over integer keys,
//! and elements move as little-endian bytes.

use std::cmp::Ordering;
use std::sync::Arc;

use shoal_core::{Bytes, ShuffleInput, TaskContext, TaskError};

use super::sample::{boundaries, Sample, Sampler};
use super::sorter;
use crate::codec::{encode_gather, fixed_width, Element};
use crate::part::{Flow, BATCH};
use crate::radix;
use crate::runs::{frame_parts, BlockFrames};

/// The sample stage's result: the partition's length and sample.
pub(super) fn sample_blob<T: Element>(
    items: Flow<T>,
    partition: u32,
    wanted: usize,
) -> Result<Bytes, TaskError> {
    let sampler = Sampler::new(partition, wanted);
    let sample = match items {
        Flow::Ready(part) => sampler.of_slice(part.as_slice()),
        stream => {
            let mut sampler = sampler;
            for batch in stream.batches() {
                sampler.offer(&batch?);
            }
            sampler.finish()
        }
    };
    let mut out = Vec::new();
    sample.encode(&mut out)?;
    Ok(Bytes::from(out))
}

/// The boundaries from the sample stage's results.
pub(super) fn bounds_of<T: Element, C: Fn(&T, &T) -> Ordering>(
    blobs: &[Bytes],
    parts: u32,
    cmp: &C,
) -> Result<Vec<T>, TaskError> {
    let samples = blobs
        .iter()
        .map(|blob| Sample::decode(blob))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(boundaries(samples, parts, cmp))
}

/// Cuts batches into buckets by key range, keeping input order.
struct Router<'b, T, C> {
    bounds: &'b [T],
    /// The boundaries as integer keys, when `T` is a plain integer.
    bound_keys: Option<Vec<u64>>,
    cmp: &'b C,
    /// Per element of the batch: its bucket.
    ids: Vec<u32>,
    keys: Vec<u64>,
    /// Element indices grouped by bucket, in input order.
    order: Vec<u32>,
    counts: Vec<u32>,
}

impl<'b, T: Element, C: Fn(&T, &T) -> Ordering> Router<'b, T, C> {
    fn new(bounds: &'b [T], cmp: &'b C) -> Self {
        let mut keys = Vec::new();
        let bound_keys = radix::keys_of(bounds, &mut keys).then_some(keys);
        Router {
            bounds,
            bound_keys,
            cmp,
            ids: Vec::new(),
            keys: Vec::new(),
            order: Vec::new(),
            counts: vec![0; bounds.len() + 1],
        }
    }

    /// Bucket b takes the elements `bounds[b - 1] < x <= bounds[b]`.
    fn assign(&mut self, items: &[T]) {
        self.ids.clear();
        self.keys.clear();
        if let (Some(bounds), true) = (&self.bound_keys, radix::keys_of(items, &mut self.keys)) {
            let ids = self
                .keys
                .iter()
                .map(|&x| bounds.partition_point(|&b| b < x));
            self.ids.extend(ids.map(|b| b as u32));
            return;
        }
        let (bounds, cmp) = (self.bounds, self.cmp);
        let ids = items
            .iter()
            .map(|x| bounds.partition_point(|b| cmp(x, b) == Ordering::Greater));
        self.ids.extend(ids.map(|b| b as u32));
    }

    /// Appends `items` to the buckets: one frame per bucket that gets any.
    fn route(&mut self, items: &[T], buckets: &mut [Vec<u8>]) -> Result<(), TaskError> {
        self.assign(items);
        self.counts.iter_mut().for_each(|c| *c = 0);
        for &id in &self.ids {
            self.counts[id as usize] += 1;
        }
        let mut starts = Vec::with_capacity(self.counts.len() + 1);
        let mut at = 0u32;
        for &count in &self.counts {
            starts.push(at);
            at += count;
        }
        starts.push(at);
        self.order.resize(items.len(), 0);
        let mut next = starts.clone();
        for (index, &id) in self.ids.iter().enumerate() {
            self.order[next[id as usize] as usize] = index as u32;
            next[id as usize] += 1;
        }
        let width = fixed_width::<T>().unwrap_or(2);
        for (bucket, out) in buckets.iter_mut().enumerate() {
            let (start, end) = (starts[bucket] as usize, starts[bucket + 1] as usize);
            if start == end {
                continue;
            }
            out.reserve(16 + (end - start) * width);
            let at = out.len();
            out.extend_from_slice(&[0u8; 8]);
            out.extend_from_slice(&((end - start) as u64).to_le_bytes());
            encode_gather(items, &self.order[start..end], out)
                .map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
            let len = (out.len() - at - 8) as u64;
            out[at..at + 8].copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }
}

/// Routes the partition to the buckets the boundaries assign.
pub(super) fn route<T: Element, C: Fn(&T, &T) -> Ordering>(
    ctx: &mut TaskContext<'_>,
    items: Flow<T>,
    bounds: &[T],
    cmp: &C,
) -> Result<(), TaskError> {
    let mut router = Router::new(bounds, cmp);
    match items {
        // Borrowed, batch by batch: nothing is copied but into the buckets.
        Flow::Ready(part) => {
            for batch in part.as_slice().chunks(BATCH) {
                router.route(batch, ctx.buckets())?;
                ctx.spill_output_if_needed()?;
            }
        }
        stream => {
            for batch in stream.batches() {
                router.route(&batch?, ctx.buckets())?;
                ctx.spill_output_if_needed()?;
            }
        }
    }
    Ok(())
}

/// The reader's partition: its pieces, in map order, sorted — in memory
/// when they fit the task's memory, else in runs on disk merged k-way.
pub(super) fn sort_pieces<T: Element, C>(
    ctx: &TaskContext<'_>,
    input: ShuffleInput,
    cmp: Arc<C>,
    natural: bool,
) -> Result<Flow<T>, TaskError>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let mut sorter = sorter(ctx, cmp, natural);
    if let Some(width) = fixed_width::<T>() {
        sorter.reserve((input.len() / width as u64) as usize);
    }
    let chunk = (ctx.memory().pool().task_floor() / 16).clamp(4 << 10, 4 << 20);
    for block in input.into_blocks() {
        let mut frames = BlockFrames::<T>::new(&block, chunk);
        while let Some(frame) = frames.next_frame()? {
            let (count, body) = frame_parts::<T>(&frame)?;
            let heap = if fixed_width::<T>().is_some() {
                0
            } else {
                body.len() as u64
            };
            sorter.push_encoded(body, count, heap)?;
        }
    }
    // In memory the stream is one batch, which holds the sorter's memory
    // reservation until its consumer is done with it.
    Ok(Flow::Stream(Box::new(sorter.finish()?)))
}
