//! Samples of the input partitions and the boundaries computed from them.
//!
//! Each input partition contributes its length and a seeded sample: drawn
//! by position when the partition is in memory, by reservoir sampling when
//! it streams past. Boundaries are weighted quantiles of all samples (each
//! sample stands for `len / samples` elements of its partition), so
//! partitions of very different sizes still give balanced output. Every
//! reader computes them from the same samples in map order, so they are
//! the same everywhere.

use std::cmp::Ordering;

use shoal_core::TaskError;

use crate::codec::{decode, encode_frame, Element};
use crate::error::corrupt_task;

/// Samples taken per output partition, spread over the input partitions.
const OVERSAMPLE: u64 = 64;
/// No input partition sends more samples than this.
const MAX_SAMPLES: u64 = 1 << 14;

/// How many samples each of `in_parts` input partitions takes for
/// `out_parts` output partitions.
pub(crate) fn wanted(in_parts: u32, out_parts: u32) -> usize {
    (OVERSAMPLE * u64::from(out_parts))
        .div_ceil(u64::from(in_parts.max(1)))
        .clamp(1, MAX_SAMPLES) as usize
}

/// SplitMix64: a tiny deterministic generator for sample positions.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One input partition's length and sample.
pub(crate) struct Sample<T> {
    pub len: u64,
    pub items: Vec<T>,
}

impl<T: Element> Sample<T> {
    /// As bytes: the length, then the sample as a frame.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), TaskError> {
        out.extend_from_slice(&self.len.to_le_bytes());
        encode_frame(&self.items, out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))
    }

    /// Reads what [`Sample::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Sample<T>, TaskError> {
        let (len, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt_task("sort sample", "shorter than 8 bytes"))?;
        let items = decode(rest).map_err(|e| corrupt_task("sort sample", e))?;
        Ok(Sample {
            len: u64::from_le_bytes(*len),
            items,
        })
    }
}

/// Draws the sample of one input partition, in memory or as it streams.
pub(crate) struct Sampler<T> {
    wanted: usize,
    state: u64,
    seen: u64,
    items: Vec<T>,
}

impl<T: Element> Sampler<T> {
    /// A sampler for input partition `partition`, seeded by it.
    pub fn new(partition: u32, wanted: usize) -> Self {
        Sampler {
            wanted,
            state: u64::from(partition) ^ 0x5eed_5a4d,
            seen: 0,
            items: Vec::new(),
        }
    }

    /// The sample of a whole partition in memory, drawn by position.
    pub fn of_slice(mut self, items: &[T]) -> Sample<T> {
        let len = items.len() as u64;
        let items = if len <= self.wanted as u64 {
            items.to_vec()
        } else {
            (0..self.wanted)
                .map(|_| items[(splitmix(&mut self.state) % len) as usize].clone())
                .collect()
        };
        Sample { len, items }
    }

    /// Offers the next elements of a streamed partition (reservoir
    /// sampling: every element is equally likely to be kept).
    pub fn offer(&mut self, items: &[T]) {
        for x in items {
            self.seen += 1;
            if self.items.len() < self.wanted {
                self.items.push(x.clone());
            } else {
                let slot = (splitmix(&mut self.state) % self.seen) as usize;
                if slot < self.wanted {
                    self.items[slot] = x.clone();
                }
            }
        }
    }

    /// The sample of everything offered.
    pub fn finish(self) -> Sample<T> {
        Sample {
            len: self.seen,
            items: self.items,
        }
    }
}

/// The `parts - 1` boundaries (fewer when there are fewer samples):
/// weighted quantiles of every partition's sample, in map order. Output
/// partition `q` receives the elements `x` with `bounds[q - 1] < x <=
/// bounds[q]`.
pub(crate) fn boundaries<T: Element, C: Fn(&T, &T) -> Ordering>(
    samples: Vec<Sample<T>>,
    parts: u32,
    cmp: &C,
) -> Vec<T> {
    let mut weighted: Vec<(f64, T)> = Vec::new();
    for sample in samples {
        if sample.items.is_empty() {
            continue;
        }
        let weight = sample.len as f64 / sample.items.len() as f64;
        weighted.extend(sample.items.into_iter().map(|s| (weight, s)));
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
    bounds
}

/// The key range of output partition `q`: `(lower, upper)`, exclusive and
/// inclusive, `None` when unbounded; `None` altogether when the partition
/// receives nothing (there are fewer boundaries than partitions).
pub(crate) fn range_of<T>(bounds: &[T], q: usize) -> Option<(Option<&T>, Option<&T>)> {
    if q > bounds.len() {
        return None;
    }
    Some((q.checked_sub(1).map(|i| &bounds[i]), bounds.get(q)))
}
