//! Sample sort: globally ordered, evenly balanced, stable.
//!
//! ```text
//! sample (P tasks)   each task: its length + a seeded random sample   ──results──┐
//! route  (P tasks)   each task: boundaries from all samples (the same   ◀────────┘
//!                    in every task: a pure function of the samples),
//!                    sorts its partition, cuts it at the boundaries     ──range shuffle──┐
//! merge  (P tasks)   concatenates its sorted runs in map order and      ◀────────────────┘
//!                    merges them (a run-adaptive stable sort)
//! ```
//!
//! Boundaries are weighted quantiles of the samples (each sample stands
//! for `len / samples` elements of its partition), so partitions of very
//! different sizes still give balanced output. Elements that compare equal
//! always land in the same partition, in their original order: the sort
//! is stable. Every bucket a map task writes is a sorted run, so when
//! shuffle data spills beyond the memory budget the merge stage reads back
//! sorted runs and merges them.

use std::cmp::Ordering;
use std::sync::Arc;

use shoal_core::extsort::{merge_sorted, BatchSource, ExternalSorter, SortOptions};
use shoal_core::{Bytes, Plan, ShuffleInput, Stage, StageRef, TaskContext, TaskError};

use crate::array::{Lower, Lowered};
use crate::codec::{decode, decode_into, encode_frame, is_plain_integer, Element};
use crate::error::corrupt_task;
use crate::part::{Flow, Part, BATCH};
use crate::radix;
use crate::runs::{write_frames, ArrayCodec, BlockFrames};
use crate::DistArray;

/// Samples taken per output partition, spread over the input partitions.
const OVERSAMPLE: u64 = 64;
/// No input partition sends more samples than this.
const MAX_SAMPLES: u64 = 1 << 14;

/// SplitMix64: a tiny deterministic generator for sample positions.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The result blob of a sample task: partition length, then the sample.
fn sample_blob<T: Element>(
    items: Flow<T>,
    partition: u32,
    wanted: u64,
) -> Result<Bytes, TaskError> {
    let mut state = u64::from(partition) ^ 0x5eed_5a4d;
    let (len, sample) = match items {
        Flow::Ready(part) => {
            let items = part.as_slice();
            let len = items.len() as u64;
            let sample: Vec<T> = if len <= wanted {
                items.to_vec()
            } else {
                (0..wanted)
                    .map(|_| items[(splitmix(&mut state) % len) as usize].clone())
                    .collect()
            };
            (len, sample)
        }
        stream => reservoir(stream, wanted as usize, &mut state)?,
    };
    let mut out = len.to_le_bytes().to_vec();
    encode_frame(&sample, &mut out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
    Ok(Bytes::from(out))
}

/// A uniform sample of `wanted` elements of a stream (reservoir sampling,
/// seeded: the same stream gives the same sample), and its length.
fn reservoir<T: Element>(
    items: Flow<T>,
    wanted: usize,
    state: &mut u64,
) -> Result<(u64, Vec<T>), TaskError> {
    let mut sample = Vec::with_capacity(wanted);
    let mut seen = 0u64;
    items.for_each(|x| {
        seen += 1;
        if sample.len() < wanted {
            sample.push(x);
        } else {
            let slot = splitmix(state) % seen;
            if (slot as usize) < wanted {
                sample[slot as usize] = x;
            }
        }
    })?;
    Ok((seen, sample))
}

/// The `parts - 1` boundaries: weighted quantiles of every task's sample.
fn boundaries<T: Element, C: Fn(&T, &T) -> Ordering>(
    blobs: &[Bytes],
    parts: u32,
    cmp: &C,
) -> Result<Vec<T>, TaskError> {
    let mut weighted: Vec<(f64, T)> = Vec::new();
    for blob in blobs {
        let (len, rest) = blob
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt_task("sort sample", "shorter than 8 bytes"))?;
        let sample: Vec<T> = decode(rest).map_err(|e| corrupt_task("sort sample", e))?;
        if sample.is_empty() {
            continue;
        }
        let weight = u64::from_le_bytes(*len) as f64 / sample.len() as f64;
        weighted.extend(sample.into_iter().map(|s| (weight, s)));
    }
    weighted.sort_by(|a, b| cmp(&a.1, &b.1));
    let total: f64 = weighted.iter().map(|w| w.0).sum();
    let mut bounds = Vec::with_capacity(parts as usize);
    let (mut cumulative, mut next) = (0.0, 1u32);
    for (weight, sample) in weighted {
        cumulative += weight;
        while next < parts && cumulative >= total * f64::from(next) / f64::from(parts) {
            bounds.push(sample.clone());
            next += 1;
        }
    }
    Ok(bounds)
}

/// Sorts the partition (in runs on disk when it outgrows the task's
/// memory) and writes it to the buckets the boundaries assign, as
/// length-prefixed frames: each bucket receives one sorted run.
fn route<T: Element, C: Fn(&T, &T) -> Ordering + Send + Sync + 'static>(
    ctx: &mut TaskContext<'_>,
    items: Flow<T>,
    bounds: &[T],
    cmp: Arc<C>,
    unstable: bool,
) -> Result<(), TaskError> {
    let options = SortOptions {
        stable: !unstable,
        ..SortOptions::default()
    };
    let by = cmp.clone();
    let mut sorter = ExternalSorter::new(
        ArrayCodec::<T>::new(),
        move |a: &T, b: &T| by(a, b),
        ctx.memory(),
        ctx.spill_space(),
        options,
    );
    if unstable {
        // Plain integers (what `unstable` means here) sort by radix.
        sorter = sorter.with_in_memory_sort(|items| {
            radix::sort_plain(items);
        });
    }
    // A partition already in memory goes in whole: one copy at most.
    let batches = match items {
        Flow::Ready(part) => Box::new(std::iter::once(Ok(part.into_vec()))),
        stream => stream.batches(),
    };
    for batch in batches {
        sorter.push_batch(batch?)?;
    }
    // Bucket b holds the elements <= bounds[b] (and > bounds[b - 1]);
    // sorted batches arrive in order, so the bucket only moves forward.
    let mut bucket = 0usize;
    for batch in sorter.finish()? {
        let items = batch?;
        let mut start = 0;
        while start < items.len() {
            let end = match bounds.get(bucket) {
                Some(bound) => start + items[start..].partition_point(|x| cmp(x, bound).is_le()),
                None => items.len(),
            };
            if end > start {
                let out = &mut ctx.buckets()[bucket];
                let frames = (end - start).div_ceil(BATCH);
                out.reserve((end - start) * std::mem::size_of::<T>() + 16 * frames);
                write_frames(&items[start..end], BATCH, out)?;
            }
            if end < items.len() {
                bucket += 1;
            }
            start = end;
        }
        ctx.spill_output_if_needed()?;
    }
    Ok(())
}

/// How many elements the in-memory blocks of `input` hold (a hint for
/// plain numbers, whose width is known; 0 otherwise).
fn frames_count<T: Element>(input: &ShuffleInput) -> usize {
    if is_plain_integer::<T>() {
        (input.len() / std::mem::size_of::<T>() as u64) as usize
    } else {
        0
    }
}

/// Decodes the length-prefixed frames of one whole block into `out`.
fn decode_frames<T: Element>(mut bytes: &[u8], out: &mut Vec<T>) -> Result<(), TaskError> {
    while let Some((len, rest)) = bytes.split_first_chunk::<8>() {
        let len = u64::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(corrupt_task("sort run", "frame cut short"));
        }
        decode_into(&rest[..len], out).map_err(|e| corrupt_task("sort run", e))?;
        bytes = &rest[len..];
    }
    if bytes.is_empty() {
        Ok(())
    } else {
        Err(corrupt_task("sort run", "frame header cut short"))
    }
}

/// The merge stage's partition: its runs (one per map task and spilled
/// piece) merged — in memory when they fit the task's memory, else
/// streamed by a k-way merge that never holds more than a frame per run.
fn merge_runs<T: Element, C: Fn(&T, &T) -> Ordering + Send + Sync + 'static>(
    ctx: &TaskContext<'_>,
    input: ShuffleInput,
    cmp: Arc<C>,
    unstable: bool,
) -> Result<Flow<T>, TaskError> {
    let mut reservation = ctx.memory().reservation();
    let decoded = if is_plain_integer::<T>() {
        input.len()
    } else {
        input.len() * 2 + 8 * input.blocks().len() as u64
    };
    if reservation.try_grow(decoded) {
        let mut items = Vec::with_capacity(frames_count::<T>(&input));
        for block in input.blocks() {
            decode_frames(&block.read_all()?, &mut items)?;
        }
        // Concatenated sorted runs: a radix sort for plain integers, else a
        // run-adaptive stable sort that merges them.
        if !(unstable && radix::sort_plain(&mut items)) {
            items.sort_by(|a, b| cmp(a, b));
        }
        return Ok(Flow::Ready(Part::Owned(items)));
    }
    drop(reservation);
    let frame = (ctx.memory().pool().task_floor() / 16).clamp(4 << 10, 4 << 20);
    let sources: Vec<Box<dyn BatchSource<T>>> = input
        .into_blocks()
        .into_iter()
        .map(|block| Box::new(BlockFrames::<T>::new(&block, frame)) as Box<dyn BatchSource<T>>)
        .collect();
    let stream = merge_sorted(
        sources,
        cmp,
        ArrayCodec::<T>::new(),
        ctx.memory(),
        ctx.spill_space(),
        BATCH,
        frame as usize,
    )?;
    Ok(Flow::Stream(Box::new(stream)))
}

impl<T: Element> DistArray<T> {
    /// Sorted by `key`, stably: elements with equal keys keep their order.
    pub fn sort_by_key<K: Ord>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> DistArray<T> {
        self.sample_sort(move |a: &T, b: &T| key(a).cmp(&key(b)), false)
    }

    /// Sorted by the comparator `cmp`, stably.
    pub fn sort_by(
        &self,
        cmp: impl Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    ) -> DistArray<T> {
        self.sample_sort(cmp, false)
    }

    fn sample_sort<C>(&self, cmp: C, unstable: bool) -> DistArray<T>
    where
        C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    {
        let cmp = Arc::new(cmp);
        let upstream = self.lower.clone();
        let parts = self.partitions;
        let lower: Lower<T> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            let sample = add_sample_stage(plan, &up, parts);
            let map = add_route_stage(plan, &up, sample, parts, cmp.clone(), unstable);
            let cmp = cmp.clone();
            Lowered {
                partitions: parts,
                reads: vec![map],
                compute: Arc::new(move |ctx| {
                    merge_runs(ctx, ctx.shuffle_input(map)?, cmp.clone(), unstable)
                }),
            }
        });
        DistArray::from_lower(self.session.clone(), parts, None, lower)
    }
}

fn add_sample_stage<T: Element>(plan: &mut Plan, up: &Lowered<T>, out_parts: u32) -> StageRef {
    let wanted = (OVERSAMPLE * u64::from(out_parts))
        .div_ceil(u64::from(up.partitions))
        .clamp(1, MAX_SAMPLES);
    let compute = up.compute.clone();
    let stage = Stage::new("sort-sample", up.partitions, move |ctx| {
        let blob = sample_blob(compute(ctx)?, ctx.partition(), wanted)?;
        ctx.set_result(blob);
        Ok(())
    });
    plan.add_stage(up.declare(stage))
}

fn add_route_stage<T: Element, C>(
    plan: &mut Plan,
    up: &Lowered<T>,
    sample: StageRef,
    out_parts: u32,
    cmp: Arc<C>,
    unstable: bool,
) -> StageRef
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let compute = up.compute.clone();
    let stage = Stage::new("sort-route", up.partitions, move |ctx| {
        let bounds = boundaries(&ctx.results_of(sample)?, out_parts, &*cmp)?;
        let items = compute(ctx)?;
        route(ctx, items, &bounds, cmp.clone(), unstable)
    })
    .shuffle_output(out_parts)
    .reads(sample);
    plan.add_stage(up.declare(stage))
}

impl<T: Element + Ord> DistArray<T> {
    /// Sorted ascending, stably (for plain integers, whose equal values are
    /// indistinguishable, map tasks use a faster unstable sort).
    pub fn sort(&self) -> DistArray<T> {
        self.sample_sort(T::cmp, is_plain_integer::<T>())
    }
}
