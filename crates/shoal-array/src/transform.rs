//! Lazy transformations: narrow ones fuse into the consuming task;
//! `repartition` and unaligned `zip` add one order-preserving shuffle.

use std::sync::Arc;

use shoal_core::{Plan, Stage, TaskError};

use crate::array::{read_chunk, starts, Lower, Lowered};
use crate::codec::Element;
use crate::part::{Batches, Flow, Part, BATCH};
use crate::runs::{push_frame, stream_frames};
use crate::sources::even_lengths;
use crate::{ArrayError, DistArray};

impl<T: Element> DistArray<T> {
    /// Applies `f` to every element (fused; keeps partition lengths).
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> DistArray<U> {
        let f = Arc::new(f);
        self.narrow(true, move |_, items| {
            let f = f.clone();
            Ok(match items {
                Flow::Ready(part) => Flow::Ready(Part::Owned(part.into_iter().map(&*f).collect())),
                stream => stream.map_batches(move |b| b.into_iter().map(&*f).collect()),
            })
        })
    }

    /// Keeps the elements for which `keep` is true (fused).
    pub fn filter(&self, keep: impl Fn(&T) -> bool + Send + Sync + 'static) -> DistArray<T> {
        let keep = Arc::new(keep);
        self.narrow(false, move |_, items| {
            let keep = keep.clone();
            Ok(match items {
                Flow::Ready(Part::Owned(mut items)) => {
                    items.retain(&*keep);
                    Flow::Ready(Part::Owned(items))
                }
                Flow::Ready(shared) => Flow::Ready(Part::Owned(
                    shared
                        .as_slice()
                        .iter()
                        .filter(|x| keep(x))
                        .cloned()
                        .collect(),
                )),
                stream => stream.map_batches(move |mut b| {
                    b.retain(&*keep);
                    b
                }),
            })
        })
    }

    /// Replaces every element by the items `f` returns for it (fused).
    pub fn flat_map<U: Element, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + Send + Sync + 'static,
    ) -> DistArray<U> {
        let f = Arc::new(f);
        self.narrow(false, move |_, items| {
            let f = f.clone();
            Ok(match items {
                Flow::Ready(part) => {
                    Flow::Ready(Part::Owned(part.into_iter().flat_map(&*f).collect()))
                }
                stream => stream.map_batches(move |b| b.into_iter().flat_map(&*f).collect()),
            })
        })
    }

    /// Replaces each partition by what `f` makes of it (fused).
    pub fn map_partitions<U: Element>(
        &self,
        f: impl Fn(Vec<T>) -> Vec<U> + Send + Sync + 'static,
    ) -> DistArray<U> {
        self.narrow(false, move |_, items| {
            Ok(Flow::Ready(Part::Owned(f(items.part()?.into_vec()))))
        })
    }

    /// Pairs element *i* of `self` with element *i* of `other`. The result
    /// has `self`'s partitioning; when `other` is partitioned differently
    /// it is first realigned by one order-preserving shuffle. Needs both
    /// partition lengths (computed if unknown).
    pub fn zip<U: Element>(&self, other: &DistArray<U>) -> Result<DistArray<(T, U)>, ArrayError> {
        let left = self.partition_lengths()?;
        let right = other.partition_lengths()?;
        let (l, r): (u64, u64) = (left.iter().sum(), right.iter().sum());
        if l != r {
            return Err(ArrayError::LengthMismatch { left: l, right: r });
        }
        let other = if left == right {
            other.clone()
        } else {
            other.realign(left.to_vec())?
        };
        let (a, b) = (self.lower.clone(), other.lower.clone());
        let lower: Lower<(T, U)> = Arc::new(move |plan: &mut Plan| {
            let (a, b) = (a(plan), b(plan));
            let (ca, cb) = (a.compute.clone(), b.compute.clone());
            let mut reads = a.reads;
            reads.extend(b.reads);
            Lowered {
                partitions: a.partitions,
                reads,
                in_memory: false,
                compute: Arc::new(move |ctx| {
                    let (a, b) = (ca(ctx)?.batches(), cb(ctx)?.batches());
                    Ok(Flow::Stream(Box::new(ZipBatches {
                        a,
                        b,
                        left: Vec::new().into_iter(),
                        right: Vec::new().into_iter(),
                    })))
                }),
            }
        });
        let zipped = DistArray::from_lower(self.session.clone(), self.partitions, None, lower);
        let _ = zipped.lengths.set(left);
        Ok(zipped)
    }

    /// The same elements in the same order in `partitions` partitions of
    /// (nearly) equal length. Needs the partition lengths.
    pub fn repartition(&self, partitions: u32) -> Result<DistArray<T>, ArrayError> {
        let n = self.len()?;
        self.realign(even_lengths(n, partitions.max(1)))
    }

    /// The same elements in the same order, cut into partitions of exactly
    /// `target` lengths (which must add up to the array's length).
    pub(crate) fn realign(&self, target: Vec<u64>) -> Result<DistArray<T>, ArrayError> {
        let source = starts(&self.partition_lengths()?);
        let target_starts = Arc::new(starts(&target));
        let source = Arc::new(source);
        let out_parts = target.len() as u32;
        let upstream = self.lower.clone();
        let lower: Lower<T> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            let compute = up.compute.clone();
            let (source, target_starts) = (source.clone(), target_starts.clone());
            let stage = Stage::new("realign", up.partitions, move |ctx| {
                // Batch by batch: the partition is never whole in memory.
                let mut at = source[ctx.partition() as usize];
                match compute(ctx)? {
                    Flow::Ready(part) => {
                        for batch in part.as_slice().chunks(BATCH) {
                            at = realign_batch(batch, at, &target_starts, ctx.buckets())?;
                            ctx.spill_output_if_needed()?;
                        }
                    }
                    stream => {
                        for batch in stream.batches() {
                            at = realign_batch(&batch?, at, &target_starts, ctx.buckets())?;
                            ctx.spill_output_if_needed()?;
                        }
                    }
                }
                Ok(())
            })
            .shuffle_output(out_parts);
            let map = plan.add_stage(up.declare(stage));
            Lowered {
                partitions: out_parts,
                reads: vec![map],
                in_memory: false,
                compute: Arc::new(move |ctx| {
                    let chunk = read_chunk(ctx);
                    Ok(Flow::Stream(stream_frames(ctx.shuffle_input(map)?, chunk)))
                }),
            }
        });
        Ok(DistArray::from_lower(
            self.session.clone(),
            out_parts,
            Some(target),
            lower,
        ))
    }
}

/// Frames `batch`, whose first element has global index `at`, into the
/// buckets of the target partitions starting at `target_starts`; returns
/// the global index after it.
fn realign_batch<T: Element>(
    batch: &[T],
    at: u64,
    target_starts: &[u64],
    buckets: &mut [Vec<u8>],
) -> Result<u64, TaskError> {
    let mut done = 0usize;
    while done < batch.len() {
        let global = at + done as u64;
        let bucket = target_starts.partition_point(|&s| s <= global) - 1;
        let room = (target_starts[bucket + 1] - global) as usize;
        let end = (done + room).min(batch.len());
        push_frame(&batch[done..end], &mut buckets[bucket])?;
        done = end;
    }
    Ok(at + batch.len() as u64)
}

/// Pairs two streams of batches element by element, whatever their
/// batch sizes, ending with the shorter.
struct ZipBatches<T, U> {
    a: Batches<T>,
    b: Batches<U>,
    left: std::vec::IntoIter<T>,
    right: std::vec::IntoIter<U>,
}

impl<T, U> Iterator for ZipBatches<T, U> {
    type Item = Result<Vec<(T, U)>, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left.len() == 0 {
            match self.a.next()? {
                Ok(batch) => self.left = batch.into_iter(),
                Err(err) => return Some(Err(err)),
            }
        }
        if self.right.len() == 0 {
            match self.b.next()? {
                Ok(batch) => self.right = batch.into_iter(),
                Err(err) => return Some(Err(err)),
            }
        }
        let n = self.left.len().min(self.right.len());
        Some(Ok((&mut self.left)
            .take(n)
            .zip((&mut self.right).take(n))
            .collect()))
    }
}
