//! The `DistArray` type: a lazy description of partitioned data, and how
//! it is lowered into the stages of a plan.
//!
//! Lowering an array adds the stages that produce its upstream data to a
//! [`Plan`] and returns a [`Lowered`]: the partition count, the stages a
//! consumer must declare it reads, and a `compute` closure that yields one
//! partition's elements *inside the consumer's task*. Narrow
//! transformations (`map`, `filter`, ...) wrap `compute` and add no stage,
//! so a chain of them runs fused inside one task. Wide operations (sort,
//! keyed shuffles, repartition) add a map stage with a shuffle output and
//! return a `compute` that reads the shuffle.

use std::sync::{Arc, OnceLock};

use shoal_core::{Bytes, Plan, Stage, StageRef, TaskContext, TaskError};

use crate::codec::{
    count_hint, decode_elements, decode_into, encode, encode_elements, encode_frame, fixed_width,
    into_le_bytes, Element,
};
use crate::concat::concat_plain;
use crate::part::{Flow, Part};
use crate::{Action, ArrayError, Session};

/// Yields the elements of the running task's partition.
pub(crate) type Compute<T> =
    Arc<dyn Fn(&TaskContext<'_>) -> Result<Flow<T>, TaskError> + Send + Sync>;

/// An array lowered into a plan.
pub(crate) struct Lowered<T> {
    /// Partitions of the array = tasks of the consuming stage.
    pub partitions: u32,
    /// Stages the consuming stage must declare with `Stage::reads`.
    pub reads: Vec<StageRef>,
    /// The partitions are already in memory (vector sources): computing
    /// one again copies at most, so a consumer may read it twice.
    pub in_memory: bool,
    /// Computes the partition `ctx.partition()`.
    pub compute: Compute<T>,
}

impl<T> Lowered<T> {
    /// `stage` with every read of this array declared.
    pub fn declare(&self, mut stage: Stage) -> Stage {
        for from in &self.reads {
            stage = stage.reads(*from);
        }
        stage
    }
}

/// Adds an array's upstream stages to a plan.
pub(crate) type Lower<T> = Arc<dyn Fn(&mut Plan) -> Lowered<T> + Send + Sync>;

/// A typed, partitioned, lazily evaluated distributed collection.
///
/// Transformations return new arrays without running anything; actions
/// (`collect`, `len`, `sum`, `save`, ...) build a plan and run it on the
/// array's [`Session`]. Cloning is cheap (the description is shared).
pub struct DistArray<T> {
    pub(crate) session: Session,
    pub(crate) partitions: u32,
    pub(crate) lower: Lower<T>,
    /// Per-partition lengths, once known (from the source or a count).
    pub(crate) lengths: Arc<OnceLock<Arc<[u64]>>>,
}

impl<T> Clone for DistArray<T> {
    fn clone(&self) -> Self {
        DistArray {
            session: self.session.clone(),
            partitions: self.partitions,
            lower: self.lower.clone(),
            lengths: self.lengths.clone(),
        }
    }
}

impl<T> std::fmt::Debug for DistArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistArray")
            .field("type", &std::any::type_name::<T>())
            .field("partitions", &self.partitions)
            .field("lengths", &self.lengths.get())
            .finish()
    }
}

/// Encodes a partition as a result blob.
pub(crate) fn encode_blob<T: Element>(items: &[T]) -> Result<Bytes, TaskError> {
    encode(items)
        .map(Bytes::from)
        .map_err(|e| TaskError::fatal(format!("encoding {}: {e}", std::any::type_name::<T>())))
}

/// Encodes a partition as a result blob ([`decode_partition_into`] reads
/// it): plain numbers as their bytes, with no frame header, so that a
/// partition owned in one vector becomes the blob without a copy; other
/// types batch by batch, one frame each.
pub(crate) fn encode_flow<T: Element>(flow: Flow<T>) -> Result<Bytes, TaskError> {
    let failed = |e: postcard::Error| {
        TaskError::fatal(format!("encoding {}: {e}", std::any::type_name::<T>()))
    };
    if fixed_width::<T>().is_some() {
        let mut batches = match flow {
            Flow::Ready(Part::Owned(items)) => return Ok(plain_blob(items)),
            Flow::Ready(part) => {
                let mut out = Vec::new();
                encode_elements(part.as_slice(), &mut out).map_err(failed)?;
                return Ok(Bytes::from(out));
            }
            Flow::Stream(batches) => batches,
        };
        let Some(first) = batches.next().transpose()? else {
            return Ok(Bytes::new());
        };
        let Some(second) = batches.next().transpose()? else {
            return Ok(plain_blob(first));
        };
        let mut out = Vec::new();
        for batch in [Ok(first), Ok(second)].into_iter().chain(batches) {
            encode_elements(&batch?, &mut out).map_err(failed)?;
        }
        return Ok(Bytes::from(out));
    }
    match flow {
        Flow::Ready(part) => encode_blob(part.as_slice()),
        Flow::Stream(batches) => {
            let mut out = Vec::new();
            for batch in batches {
                encode_frame(&batch?, &mut out).map_err(failed)?;
            }
            Ok(Bytes::from(out))
        }
    }
}

/// Plain numbers as a blob of their bytes (a copy only on big-endian
/// targets).
fn plain_blob<T: Element>(items: Vec<T>) -> Bytes {
    into_le_bytes(items).unwrap_or_else(|items| {
        let mut out = Vec::new();
        encode_elements(&items, &mut out).expect("plain numbers always encode");
        Bytes::from(out)
    })
}

/// Appends the elements of a blob [`encode_flow`] wrote to `out`.
pub(crate) fn decode_partition_into<T: Element>(
    blob: &[u8],
    out: &mut Vec<T>,
) -> Result<(), String> {
    match fixed_width::<T>() {
        Some(width) if !blob.len().is_multiple_of(width) => Err(format!(
            "{} bytes are not a whole number of {width}-byte elements",
            blob.len()
        )),
        Some(width) => decode_elements(blob, blob.len() / width, out),
        None => decode_into(blob, out),
    }
}

/// How many elements a blob [`encode_flow`] wrote holds (a hint).
fn partition_len_hint<T: Element>(blob: &[u8]) -> usize {
    fixed_width::<T>().map_or_else(|| count_hint(blob), |width| blob.len() / width)
}

/// Bytes a task reads of a shuffle block at a time: a sixteenth of its
/// memory floor, within 4 KiB..4 MiB.
pub(crate) fn read_chunk(ctx: &TaskContext<'_>) -> u64 {
    (ctx.memory().pool().task_floor() / 16).clamp(4 << 10, 4 << 20)
}

/// Decodes the result blob of partition `index` on the driver.
pub(crate) fn decode_result<T: Element>(blob: &[u8], index: usize) -> Result<Vec<T>, ArrayError> {
    crate::codec::decode(blob)
        .map_err(|e| ArrayError::corrupt(format!("result of partition {index}"), e))
}

impl<T: Element> DistArray<T> {
    /// An array of `partitions` partitions produced by `lower`.
    pub(crate) fn from_lower(
        session: Session,
        partitions: u32,
        lengths: Option<Vec<u64>>,
        lower: Lower<T>,
    ) -> Self {
        let known = Arc::new(OnceLock::new());
        if let Some(lengths) = lengths {
            let _ = known.set(Arc::from(lengths));
        }
        DistArray {
            session,
            partitions,
            lower,
            lengths: known,
        }
    }

    /// An array computed partition by partition by `compute`, with no
    /// upstream stage (sources); `in_memory` says its partitions are
    /// already in memory, so computing one again costs a copy at most.
    pub(crate) fn source(
        session: Session,
        partitions: u32,
        lengths: Option<Vec<u64>>,
        in_memory: bool,
        compute: Compute<T>,
    ) -> Self {
        let lower: Lower<T> = Arc::new(move |_plan: &mut Plan| Lowered {
            partitions,
            reads: Vec::new(),
            in_memory,
            compute: compute.clone(),
        });
        DistArray::from_lower(session, partitions, lengths, lower)
    }

    /// The session this array runs in.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// How many partitions the array has.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// A per-partition transformation fused into the consuming task.
    /// `same_lengths` says the output has the input's partition lengths.
    pub(crate) fn narrow<U: Element>(
        &self,
        same_lengths: bool,
        f: impl Fn(u32, Flow<T>) -> Result<Flow<U>, TaskError> + Send + Sync + 'static,
    ) -> DistArray<U> {
        let f = Arc::new(f);
        let upstream = self.lower.clone();
        let lower: Lower<U> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            let f = f.clone();
            let compute = up.compute.clone();
            Lowered {
                partitions: up.partitions,
                reads: up.reads,
                in_memory: false,
                compute: Arc::new(move |ctx| f(ctx.partition(), compute(ctx)?)),
            }
        });
        DistArray {
            session: self.session.clone(),
            partitions: self.partitions,
            lower,
            lengths: if same_lengths {
                self.lengths.clone()
            } else {
                Arc::new(OnceLock::new())
            },
        }
    }

    /// Like `narrow`, for transformations that need their task's memory
    /// and spill space (aggregations that spill).
    pub(crate) fn narrow_in_task<U: Element>(
        &self,
        f: impl Fn(&TaskContext<'_>, Flow<T>) -> Result<Flow<U>, TaskError> + Send + Sync + 'static,
    ) -> DistArray<U> {
        let f = Arc::new(f);
        let upstream = self.lower.clone();
        let lower: Lower<U> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            let (f, compute) = (f.clone(), up.compute.clone());
            Lowered {
                partitions: up.partitions,
                reads: up.reads,
                in_memory: false,
                compute: Arc::new(move |ctx| f(ctx, compute(ctx)?)),
            }
        });
        DistArray::from_lower(self.session.clone(), self.partitions, None, lower)
    }

    /// An action whose last stage runs `task` on every partition and whose
    /// result blobs `finish` turns into the answer on the driver.
    pub(crate) fn action<R: 'static>(
        &self,
        name: &'static str,
        task: impl Fn(&TaskContext<'_>, &Compute<T>) -> Result<Bytes, TaskError> + Send + Sync + 'static,
        finish: impl FnOnce(Vec<Bytes>) -> Result<R, ArrayError> + Send + 'static,
    ) -> Action<R> {
        let mut plan = Plan::new();
        let up = (self.lower)(&mut plan);
        let compute = up.compute.clone();
        let stage = Stage::new(name, up.partitions, move |ctx| {
            let blob = task(ctx, &compute)?;
            ctx.set_result(blob);
            Ok(())
        });
        plan.add_stage(up.declare(stage));
        Action::new(name, plan, finish)
    }

    /// The action behind [`DistArray::collect`], for registered jobs.
    pub fn collect_action(&self) -> Action<Vec<T>> {
        self.action(
            "collect",
            |ctx, compute| encode_flow(compute(ctx)?),
            |results| {
                if let Some(all) = concat_plain::<T>(&results) {
                    return all.map_err(|e| ArrayError::corrupt("collected results", e));
                }
                let hint = results.iter().map(|b| partition_len_hint::<T>(b)).sum();
                let mut out = Vec::with_capacity(hint);
                for (index, blob) in results.iter().enumerate() {
                    decode_partition_into(blob, &mut out).map_err(|e| {
                        ArrayError::corrupt(format!("result of partition {index}"), e)
                    })?;
                }
                Ok(out)
            },
        )
    }

    /// Every element, partition after partition.
    pub fn collect(&self) -> Result<Vec<T>, ArrayError> {
        self.session.execute(self.collect_action())
    }

    /// Every partition as its own vector.
    pub fn collect_partitions(&self) -> Result<Vec<Vec<T>>, ArrayError> {
        let action = self.action(
            "collect_partitions",
            |ctx, compute| encode_flow(compute(ctx)?),
            |results| {
                results
                    .iter()
                    .enumerate()
                    .map(|(index, blob)| {
                        let mut out = Vec::new();
                        decode_partition_into(blob, &mut out).map_err(|e| {
                            ArrayError::corrupt(format!("result of partition {index}"), e)
                        })?;
                        Ok(out)
                    })
                    .collect()
            },
        );
        self.session.execute(action)
    }

    /// The action behind [`DistArray::partition_lengths`], for registered jobs.
    pub fn lengths_action(&self) -> Action<Vec<u64>> {
        self.action(
            "count",
            |ctx, compute| {
                Ok(Bytes::from(
                    (compute(ctx)?.count()? as u64).to_le_bytes().to_vec(),
                ))
            },
            |results| {
                results
                    .iter()
                    .enumerate()
                    .map(|(index, blob)| {
                        blob.as_ref()
                            .try_into()
                            .map(u64::from_le_bytes)
                            .map_err(|_| {
                                ArrayError::corrupt(
                                    format!("count of partition {index}"),
                                    "not 8 bytes",
                                )
                            })
                    })
                    .collect()
            },
        )
    }

    /// Each partition's length. Known without running anything for
    /// sources, saved arrays and length-preserving transformations;
    /// otherwise computed once by a job and remembered.
    pub fn partition_lengths(&self) -> Result<Arc<[u64]>, ArrayError> {
        if let Some(known) = self.lengths.get() {
            return Ok(known.clone());
        }
        let lengths: Arc<[u64]> = Arc::from(self.session.execute(self.lengths_action())?);
        Ok(self.lengths.get_or_init(|| lengths).clone())
    }

    /// The number of elements.
    pub fn len(&self) -> Result<u64, ArrayError> {
        Ok(self.partition_lengths()?.iter().sum())
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> Result<bool, ArrayError> {
        Ok(self.len()? == 0)
    }

    /// Same as [`DistArray::len`]: the number of elements.
    pub fn count(&self) -> Result<u64, ArrayError> {
        self.len()
    }
}

/// Partition `p`'s first global index for each partition, plus the total.
pub(crate) fn starts(lengths: &[u64]) -> Vec<u64> {
    let mut starts = Vec::with_capacity(lengths.len() + 1);
    let mut at = 0;
    starts.push(0);
    for len in lengths {
        at += len;
        starts.push(at);
    }
    starts
}
