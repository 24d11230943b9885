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

use shoal_core::{Bytes, Reservation, ShuffleInput, TaskContext, TaskError};

use super::sample::{boundaries, Sample, Sampler};
use super::sorter;
use crate::codec::{encode_gather, fixed_width, is_plain_integer, Element};
use crate::error::corrupt_task;
use crate::part::{Flow, BATCH};
use crate::radix;
use crate::runs::BlockFrames;

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
            let ids = self.keys.iter().map(|&x| bucket_of_key(bounds, x));
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
        if cfg!(target_endian = "little") && fixed_width::<T>() == Some(std::mem::size_of::<T>()) {
            let scatter = match std::mem::size_of::<T>() {
                1 => Self::scatter::<1>,
                2 => Self::scatter::<2>,
                4 => Self::scatter::<4>,
                8 => Self::scatter::<8>,
                _ => Self::scatter::<16>,
            };
            scatter(self, items, buckets);
            return Ok(());
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

    /// [`Router::route`] for plain numbers of `W` bytes (on a
    /// little-endian target their memory is their encoding): each frame's
    /// room is reserved, then every element is copied straight to its
    /// bucket in one pass — no index, no gather.
    fn scatter<const W: usize>(&self, items: &[T], buckets: &mut [Vec<u8>]) {
        assert_eq!(std::mem::size_of::<T>(), W, "element width");
        let mut next: Vec<*mut u8> = Vec::with_capacity(buckets.len());
        for (out, &count) in buckets.iter_mut().zip(&self.counts) {
            let bytes = count as usize * W;
            if count > 0 {
                out.reserve(16 + bytes);
                out.extend_from_slice(&(8 + bytes as u64).to_le_bytes());
                out.extend_from_slice(&u64::from(count).to_le_bytes());
            }
            // SAFETY: the spare capacity holds `bytes` more bytes.
            next.push(unsafe { out.as_mut_ptr().add(out.len()) });
        }
        for (item, &id) in items.iter().zip(&self.ids) {
            let at = &mut next[id as usize];
            // SAFETY: T is a plain number of W bytes (every byte
            // initialised); bucket `id` was given room for `counts[id]`
            // elements, and exactly that many have id `id`.
            unsafe {
                let value = std::ptr::from_ref(item).cast::<[u8; W]>().read_unaligned();
                at.cast::<[u8; W]>().write_unaligned(value);
                *at = at.add(W);
            }
        }
        for (out, &count) in buckets.iter_mut().zip(&self.counts) {
            // SAFETY: the loop above wrote exactly these bytes.
            unsafe { out.set_len(out.len() + count as usize * W) };
        }
    }
}

/// How many of the sorted `bounds` are below `x` — a binary search
/// without branches (the comparisons of random keys are unpredictable).
fn bucket_of_key(bounds: &[u64], x: u64) -> usize {
    if bounds.is_empty() {
        return 0;
    }
    // Everything below `base` is below x; the answer is at most base + size.
    let (mut base, mut size) = (0usize, bounds.len());
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = std::hint::select_unpredictable(bounds[mid] < x, mid, base);
        size -= half;
    }
    base + usize::from(bounds[base] < x)
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
            if let Some(width) = fixed_width::<T>() {
                presize(ctx, part.len(), width);
            }
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

/// Gives each bucket room for its even share of `len` elements of
/// `width` bytes and a quarter more, when the task's memory allows:
/// growing by doubling would copy every bucket again and again.
fn presize(ctx: &mut TaskContext<'_>, len: usize, width: usize) {
    let buckets = ctx.buckets();
    let frames = 16 * (len / BATCH + 1);
    let each = len * width / buckets.len() * 5 / 4 + frames;
    let mut probe = ctx.memory().reservation();
    if probe.try_grow((each * ctx.buckets().len()) as u64) {
        drop(probe);
        ctx.buckets().iter_mut().for_each(|b| b.reserve(each));
    }
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
    if natural {
        if let Some(sorted) = radix_in_memory::<T>(ctx, &input)? {
            return Ok(sorted);
        }
    }
    let mut sorter = sorter(ctx, cmp, natural);
    if let Some(width) = fixed_width::<T>() {
        sorter.reserve((input.len() / width as u64) as usize);
    }
    let chunk = (ctx.memory().pool().task_floor() / 16).clamp(4 << 10, 4 << 20);
    for block in input.into_blocks() {
        let mut frames = BlockFrames::<T>::new(&block, chunk);
        while let Some(frame) = frames.next_frame()? {
            let (count, body) = frames.parts(&frame)?;
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

/// The reader's pieces radix sorted straight from their bytes, when they
/// are plain integers in memory and the task's memory has room for the
/// sorted copy (`None` otherwise: the external sorter takes them). No
/// copy before the sort, one pass writing the output.
fn radix_in_memory<T: Element>(
    ctx: &TaskContext<'_>,
    input: &ShuffleInput,
) -> Result<Option<Flow<T>>, TaskError> {
    let Some(width) = fixed_width::<T>().filter(|_| is_plain_integer::<T>()) else {
        return Ok(None);
    };
    if !input.blocks().iter().all(|b| b.is_in_memory()) {
        return Ok(None);
    }
    let mut held = ctx.memory().reservation();
    if !held.try_grow(input.len()) {
        return Ok(None);
    }
    let mut frames = Vec::new();
    for block in input.blocks() {
        let mut reader = BlockFrames::<T>::new(block, block.len().max(1));
        while let Some(frame) = reader.next_frame()? {
            let (count, body) = reader.parts(&frame)?;
            if count.checked_mul(width) != Some(body.len()) {
                return Err(corrupt_task("sort piece", "count does not match its bytes"));
            }
            frames.push(frame.slice(8..));
        }
    }
    let bodies: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    let Some(sorted) = radix::sorted_from_le::<T>(&bodies) else {
        return Ok(None);
    };
    drop(frames);
    Ok(Some(Flow::Stream(Box::new(HeldBatch {
        batch: Some(sorted),
        _held: held,
    }))))
}

/// One batch, whose memory stays reserved until its consumer drops the
/// stream.
struct HeldBatch<T> {
    batch: Option<Vec<T>>,
    _held: Reservation,
}

impl<T> Iterator for HeldBatch<T> {
    type Item = Result<Vec<T>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batch.take().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_of_key;

    #[test]
    fn bucket_of_key_counts_the_bounds_below() {
        for len in 0..20u64 {
            let bounds: Vec<u64> = (0..len).map(|i| i * 10).collect();
            for x in 0..len * 10 + 12 {
                assert_eq!(
                    bucket_of_key(&bounds, x),
                    bounds.partition_point(|&b| b < x)
                );
            }
        }
        assert_eq!(bucket_of_key(&[5, 5, 5], 5), 0);
        assert_eq!(bucket_of_key(&[5, 5, 5], 6), 3);
    }
}
