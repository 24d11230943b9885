//! Sorting an array whose partitions must be computed (files, shuffles,
//! transformations): each partition is computed once, sorted where it is,
//! and every reader takes its key range out of every sorted run.
//!
//! ```text
//! sort-runs (P tasks)  sorts its partition (runs on disk beyond its memory)
//!                      and writes it as one sorted run of frames, then a
//!                      trailer: its length, a seeded sample, and the first
//!                      element and offset of every frame      ──broadcast──┐
//! reader    (P tasks)  reads every run's trailer; boundaries from all   ◀──┘
//!                      samples (the same in every reader); the frames of
//!                      each run that hold its key range (ranged reads),
//!                      cut at the boundaries; merged — in memory, or
//!                      streamed by a k-way merge of the runs
//! ```
//!
//! Parallel sorting by sampling, with the partitioning done by the
//! readers: there is no routing pass, nothing is written twice, and the
//! sample is drawn while the partition is pushed into the sorter, exactly
//! as the sample stage would draw it, so the boundaries (and the output's
//! partitioning) are those of a sort of in-memory data.
//!
//! A run, as its task's single bucket:
//!
//! ```text
//! [frame 0]...[frame F-1] [trailer] [u64 trailer bytes]
//! frame:   u64 bytes, then the codec's frame (u64 count, elements)
//! trailer: sample (u64 length, frame), u64 F, F + 1 u64 frame offsets,
//!          frame of the F first elements
//! ```

use std::cmp::Ordering;
use std::sync::Arc;

use shoal_core::extsort::{merge_sorted, BatchSource};
use shoal_core::{Block, ShuffleInput, TaskContext, TaskError};

use super::sample::{boundaries, range_of, Sample, Sampler};
use super::sorter;
use crate::codec::{decode, decode_into, encode_frame, fixed_width, Element};
use crate::error::corrupt_task;
use crate::part::{Flow, Part, BATCH};
use crate::runs::{ArrayCodec, BlockFrames};

/// Sorts the partition and writes it as one run with its trailer.
pub(super) fn write_run<T: Element, C>(
    ctx: &mut TaskContext<'_>,
    items: Flow<T>,
    wanted: usize,
    cmp: Arc<C>,
    natural: bool,
) -> Result<(), TaskError>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let mut sorter = sorter(ctx, cmp, natural);
    let sampler = Sampler::new(ctx.partition(), wanted);
    let sample = match items {
        Flow::Ready(part) => {
            let sample = sampler.of_slice(part.as_slice());
            sorter.push_batch(part.into_vec())?;
            sample
        }
        stream => {
            let mut sampler = sampler;
            for batch in stream.batches() {
                let batch = batch?;
                sampler.offer(&batch);
                sorter.push_batch(batch)?;
            }
            sampler.finish()
        }
    };
    let mut run = RunWriter::default();
    for batch in sorter.finish()? {
        for frame in batch?.chunks(BATCH) {
            run.frame(frame, ctx.bucket(0))?;
        }
        ctx.spill_output_if_needed()?;
    }
    run.finish(&sample, ctx.bucket(0))
}

/// Writes frames and remembers where each starts and what it starts with.
struct RunWriter<T> {
    /// Bytes written to the run so far (its bucket may have been spilled
    /// and emptied meanwhile).
    written: u64,
    offsets: Vec<u64>,
    firsts: Vec<T>,
}

impl<T> Default for RunWriter<T> {
    fn default() -> Self {
        RunWriter {
            written: 0,
            offsets: Vec::new(),
            firsts: Vec::new(),
        }
    }
}

impl<T: Element> RunWriter<T> {
    fn frame(&mut self, items: &[T], out: &mut Vec<u8>) -> Result<(), TaskError> {
        let Some(first) = items.first() else {
            return Ok(());
        };
        self.offsets.push(self.written);
        self.firsts.push(first.clone());
        let at = out.len();
        out.reserve(16 + std::mem::size_of_val(items));
        out.extend_from_slice(&[0u8; 8]);
        encode_frame(items, out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
        let len = (out.len() - at - 8) as u64;
        out[at..at + 8].copy_from_slice(&len.to_le_bytes());
        self.written += len + 8;
        Ok(())
    }

    fn finish(mut self, sample: &Sample<T>, out: &mut Vec<u8>) -> Result<(), TaskError> {
        let at = out.len();
        let mut encoded = Vec::new();
        sample.encode(&mut encoded)?;
        out.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
        out.extend_from_slice(&encoded);
        out.extend_from_slice(&(self.firsts.len() as u64).to_le_bytes());
        self.offsets.push(self.written);
        for offset in &self.offsets {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        encode_frame(&self.firsts, out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
        let trailer = (out.len() - at) as u64;
        out.extend_from_slice(&trailer.to_le_bytes());
        Ok(())
    }
}

/// What a run's trailer says.
struct Trailer<T> {
    sample: Sample<T>,
    /// F + 1 offsets: frame i is bytes `offsets[i]..offsets[i + 1]`.
    offsets: Vec<u64>,
    /// The first element of every frame.
    firsts: Vec<T>,
}

/// Reads the trailer at the end of a run.
fn read_trailer<T: Element>(run: &Block) -> Result<Trailer<T>, TaskError> {
    let corrupt = |what: &str| corrupt_task("sorted run", what);
    let len = run.len();
    let tail = run.read_range(len.saturating_sub(8)..len)?;
    let size = <[u8; 8]>::try_from(&tail[..])
        .map(u64::from_le_bytes)
        .map_err(|_| corrupt("no trailer"))?;
    let start = (len - 8)
        .checked_sub(size)
        .ok_or_else(|| corrupt("trailer longer than the run"))?;
    let bytes = run.read_range(start..len - 8)?;
    let (sample_len, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("trailer cut short"))?;
    let sample_len = u64::from_le_bytes(*sample_len) as usize;
    if rest.len() < sample_len + 8 {
        return Err(corrupt("trailer cut short"));
    }
    let sample = Sample::decode(&rest[..sample_len])?;
    let rest = &rest[sample_len..];
    let (count, rest) = rest.split_first_chunk::<8>().expect("checked above");
    let count = u64::from_le_bytes(*count) as usize;
    let offsets_len = count
        .checked_add(1)
        .and_then(|n| n.checked_mul(8))
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| corrupt("frame offsets cut short"))?;
    let offsets: Vec<u64> = rest[..offsets_len]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let firsts: Vec<T> = decode(&rest[offsets_len..]).map_err(|e| corrupt_task("sorted run", e))?;
    if firsts.len() != count
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets.last() != Some(&start)
    {
        return Err(corrupt("inconsistent frame index"));
    }
    Ok(Trailer {
        sample,
        offsets,
        firsts,
    })
}

/// Which frames of a run hold keys in `(lower, upper]`, and whether the
/// first of them may hold keys at or below `lower`.
fn frames_in<T, C: Fn(&T, &T) -> Ordering>(
    firsts: &[T],
    lower: Option<&T>,
    upper: Option<&T>,
    cmp: &C,
) -> (std::ops::Range<usize>, bool) {
    // Frames starting at or below `lower` hold only keys <= lower, but for
    // the last of them, whose tail may rise above it.
    let start = lower.map_or(0, |lo| {
        firsts
            .partition_point(|f| cmp(f, lo) != Ordering::Greater)
            .saturating_sub(1)
    });
    // Frames starting above `upper` hold nothing of ours.
    let end = upper.map_or(firsts.len(), |hi| {
        firsts.partition_point(|f| cmp(f, hi) != Ordering::Greater)
    });
    let cut_below = lower.is_some_and(|lo| {
        firsts
            .get(start)
            .is_some_and(|f| cmp(f, lo) != Ordering::Greater)
    });
    (start..end.max(start), cut_below)
}

/// The part of one run a reader takes: some of its frames, the first cut
/// below at `lower` (exclusive) when it reaches down to it, the last cut
/// above at `upper` (inclusive).
struct Cut<T, C> {
    frames: BlockFrames<T>,
    /// Frames left to read.
    left: usize,
    /// Whether the next frame must be cut below.
    cut_below: bool,
    lower: Option<T>,
    upper: Option<T>,
    cmp: Arc<C>,
}

impl<T: Element, C: Fn(&T, &T) -> Ordering> Cut<T, C> {
    /// Whether the next frame lies wholly inside the range.
    fn next_is_inside(&self) -> bool {
        !self.cut_below && (self.left != 1 || self.upper.is_none())
    }

    /// The next frame's bytes, undecoded.
    fn next_frame(&mut self) -> Result<Option<shoal_core::Bytes>, TaskError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.cut_below = false;
        match self.frames.next_frame()? {
            Some(frame) => Ok(Some(frame)),
            None => Err(corrupt_task("sorted run", "fewer frames than its index")),
        }
    }

    /// The next frame, decoded and cut at the bounds.
    fn next_items(&mut self) -> Result<Option<Vec<T>>, TaskError> {
        let cut_below = self.cut_below;
        let Some(frame) = self.next_frame()? else {
            return Ok(None);
        };
        let mut items = Vec::new();
        decode_into(&frame, &mut items).map_err(|e| corrupt_task("sorted run", e))?;
        let cmp = &*self.cmp;
        if let (0, Some(hi)) = (self.left, &self.upper) {
            let keep = items.partition_point(|x| cmp(x, hi) != Ordering::Greater);
            items.truncate(keep);
        }
        if let (true, Some(lo)) = (cut_below, &self.lower) {
            let below = items.partition_point(|x| cmp(x, lo) != Ordering::Greater);
            items.drain(..below);
        }
        Ok(Some(items))
    }
}

impl<T: Element, C: Fn(&T, &T) -> Ordering + Send + Sync> BatchSource<T> for Cut<T, C> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, TaskError> {
        self.next_items()
    }
}

/// The reader's partition: its key range of every run, merged.
pub(super) fn merge_cuts<T: Element, C>(
    ctx: &TaskContext<'_>,
    input: ShuffleInput,
    parts: u32,
    cmp: Arc<C>,
    natural: bool,
) -> Result<Flow<T>, TaskError>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let runs = input.into_blocks();
    let mut trailers = runs
        .iter()
        .map(read_trailer::<T>)
        .collect::<Result<Vec<_>, _>>()?;
    let samples = trailers
        .iter_mut()
        .map(|t| {
            std::mem::replace(
                &mut t.sample,
                Sample {
                    len: 0,
                    items: Vec::new(),
                },
            )
        })
        .collect();
    let bounds = boundaries(samples, parts, &*cmp);
    let Some((lower, upper)) = range_of(&bounds, ctx.partition() as usize) else {
        return Ok(Flow::Ready(Part::Owned(Vec::new())));
    };
    let chunk = (ctx.memory().pool().task_floor() / 16).clamp(4 << 10, 4 << 20);
    let mut cuts = Vec::with_capacity(runs.len());
    let mut bytes = 0;
    for (run, trailer) in runs.iter().zip(&trailers) {
        let (frames, cut_below) = frames_in(&trailer.firsts, lower, upper, &*cmp);
        if frames.is_empty() {
            continue;
        }
        let range = trailer.offsets[frames.start]..trailer.offsets[frames.end];
        bytes += range.end - range.start;
        cuts.push(Cut {
            frames: BlockFrames::new(&run.slice(range), chunk),
            left: frames.len(),
            cut_below,
            lower: lower.cloned(),
            upper: upper.cloned(),
            cmp: cmp.clone(),
        });
    }
    // Decoded, the cuts take about their encoded size (plain numbers) or
    // twice it; sorting them needs as much again.
    let decoded = if fixed_width::<T>().is_some() {
        bytes
    } else {
        2 * bytes
    };
    let mut probe = ctx.memory().reservation();
    if probe.try_grow(2 * decoded) {
        drop(probe);
        return sort_cuts(ctx, cuts, cmp, natural);
    }
    drop(probe);
    let sources = cuts
        .into_iter()
        .map(|cut| Box::new(cut) as Box<dyn BatchSource<T>>)
        .collect();
    let merged = merge_sorted(
        sources,
        cmp,
        ArrayCodec::<T>::new(),
        ctx.memory(),
        ctx.spill_space(),
        BATCH,
        chunk as usize,
    )?;
    Ok(Flow::Stream(Box::new(merged)))
}

/// The cuts concatenated (runs in map order) and sorted in memory: a
/// stable sort merges the runs, a radix sort sorts plain integers.
fn sort_cuts<T: Element, C>(
    ctx: &TaskContext<'_>,
    cuts: Vec<Cut<T, C>>,
    cmp: Arc<C>,
    natural: bool,
) -> Result<Flow<T>, TaskError>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let mut sorter = sorter(ctx, cmp, natural);
    for mut cut in cuts {
        while cut.left > 0 {
            if !cut.next_is_inside() {
                if let Some(items) = cut.next_items()? {
                    sorter.push_batch(items)?;
                }
                continue;
            }
            // Wholly inside the range: decoded straight into the sorter.
            let frame = cut.next_frame()?.expect("frames left");
            let (count, body) = cut.frames.parts(&frame)?;
            let heap = if fixed_width::<T>().is_some() {
                0
            } else {
                body.len() as u64
            };
            sorter.push_encoded(body, count, heap)?;
        }
    }
    Ok(Flow::Stream(Box::new(sorter.finish()?)))
}
