//! Hash joins within the task's memory, grace hash joins beyond it.
//!
//! The right side is the build side. While its hash table fits the task's
//! memory, left rows stream past it and matches are emitted batch by
//! batch. When the table outgrows the memory, both sides are partitioned
//! to disk by bits of the key's hash that routing does not use (left rows
//! tagged with their position), each pair of partitions is joined on its
//! own, and the partitions' outputs — each in left order already — are
//! merged by left position: the output is the same rows in the same order
//! as without spilling.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use shoal_core::extsort::{merge_sorted, BatchSource, RunReader, RunWriter};
use shoal_core::{Reservation, SpillFile, SpillSpace, TaskContext, TaskError, TaskMemory};

use crate::codec::Element;
use crate::keyed::key_hash;
use crate::part::{Flow, BATCH};
use crate::runs::ArrayCodec;

/// Emits the output rows of one left row and its matches.
pub(crate) type Emit<K, V, W, R> = Arc<dyn Fn(&K, &V, Option<&Vec<W>>, &mut Vec<R>) + Send + Sync>;

/// Partitions a grace join writes per side.
const FANOUT: usize = 16;

/// Rows buffered per partition before they are written as one frame.
const BUFFERED: usize = 1024;

/// Target bytes of one frame in the partition files.
const FRAME: usize = 64 << 10;

/// The partition of a key in a grace join: high hash bits, independent
/// of the low bits the shuffle routed by.
fn part_of<K: Element>(key: &K) -> usize {
    (key_hash(key) >> 40) as usize % FANOUT
}

/// The build side's table and the memory it holds.
struct Table<K, W> {
    index: HashMap<K, Vec<W>, ahash::RandomState>,
    bytes: u64,
    reservation: Reservation,
}

impl<K: Element + Hash + Eq, W: Element> Table<K, W> {
    fn new(memory: &TaskMemory) -> Self {
        Table {
            index: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            bytes: 0,
            reservation: memory.reservation(),
        }
    }

    fn add(&mut self, key: K, value: W) {
        self.bytes += std::mem::size_of::<W>() as u64;
        match self.index.get_mut(&key) {
            Some(values) => values.push(value),
            None => {
                self.bytes += (std::mem::size_of::<(K, Vec<W>)>() + 16) as u64;
                self.index.insert(key, vec![value]);
            }
        }
    }

    fn fits(&mut self) -> bool {
        self.index.len() <= 1 || self.reservation.try_resize(self.bytes)
    }
}

/// Rows partitioned to [`FANOUT`] spill files.
struct Partitioned<T: Element> {
    buffers: Vec<Vec<T>>,
    writers: Vec<RunWriter<ArrayCodec<T>>>,
}

impl<T: Element> Partitioned<T> {
    fn new(spill: &SpillSpace) -> Result<Self, TaskError> {
        Ok(Partitioned {
            buffers: (0..FANOUT).map(|_| Vec::new()).collect(),
            writers: (0..FANOUT)
                .map(|_| RunWriter::new(spill, ArrayCodec::new(), FRAME))
                .collect::<Result<_, _>>()?,
        })
    }

    fn push(&mut self, part: usize, row: T) -> Result<(), TaskError> {
        self.buffers[part].push(row);
        if self.buffers[part].len() >= BUFFERED {
            self.writers[part].write(&self.buffers[part])?;
            self.buffers[part].clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<SpillFile>, TaskError> {
        let mut files = Vec::with_capacity(FANOUT);
        for (mut writer, buffer) in self.writers.drain(..).zip(&self.buffers) {
            writer.write(buffer)?;
            files.push(writer.finish()?);
        }
        Ok(files)
    }
}

/// Joins `left` with `right` on the key, in left order.
pub(crate) fn hash_join<K, V, W, R>(
    ctx: &TaskContext<'_>,
    left: Flow<(K, V)>,
    right: Flow<(K, W)>,
    emit: Emit<K, V, W, R>,
) -> Result<Flow<R>, TaskError>
where
    K: Element + Hash + Eq,
    V: Element,
    W: Element,
    R: Element,
{
    let (memory, spill) = (ctx.memory().clone(), ctx.spill_space().clone());
    let mut table = Table::new(&memory);
    let mut spilled: Option<Partitioned<(K, W)>> = None;
    for batch in right.batches() {
        let batch = batch?;
        if let Some(parts) = spilled.as_mut() {
            for (key, value) in batch {
                parts.push(part_of(&key), (key, value))?;
            }
            continue;
        }
        for (key, value) in batch {
            table.add(key, value);
        }
        if !table.fits() {
            let mut parts = Partitioned::new(&spill)?;
            for (key, values) in table.index.drain() {
                let part = part_of(&key);
                for value in values {
                    parts.push(part, (key.clone(), value))?;
                }
            }
            table.reservation.free();
            spilled = Some(parts);
        }
    }
    let Some(right_parts) = spilled else {
        // The build side fits: stream the left side past it.
        let probed = left.batches().map(move |batch| {
            let mut out = Vec::new();
            for (key, value) in batch? {
                emit(&key, &value, table.index.get(&key), &mut out);
            }
            Ok(out)
        });
        return Ok(Flow::Stream(Box::new(probed)));
    };
    grace_join(left, right_parts.finish()?, emit, &memory, &spill)
}

/// Joins partition by partition from disk, then merges by left position.
fn grace_join<K, V, W, R>(
    left: Flow<(K, V)>,
    right_files: Vec<SpillFile>,
    emit: Emit<K, V, W, R>,
    memory: &TaskMemory,
    spill: &SpillSpace,
) -> Result<Flow<R>, TaskError>
where
    K: Element + Hash + Eq,
    V: Element,
    W: Element,
    R: Element,
{
    let mut left_parts: Partitioned<(u64, K, V)> = Partitioned::new(spill)?;
    let mut position = 0u64;
    for batch in left.batches() {
        for (key, value) in batch? {
            left_parts.push(part_of(&key), (position, key, value))?;
            position += 1;
        }
    }
    let mut outputs: Vec<Box<dyn BatchSource<(u64, R)>>> = Vec::with_capacity(FANOUT);
    for (left_file, right_file) in left_parts.finish()?.into_iter().zip(right_files) {
        // A partition's table is built whole even if it is still larger
        // than the memory: a join of heavily skewed keys cannot split it.
        let mut table = Table::new(memory);
        let mut right = RunReader::new(right_file, ArrayCodec::<(K, W)>::new());
        while let Some(batch) = right.next_batch()? {
            for (key, value) in batch {
                table.add(key, value);
            }
            table
                .reservation
                .grow(table.bytes.saturating_sub(table.reservation.size()));
        }
        let mut out = RunWriter::new(spill, ArrayCodec::<(u64, R)>::new(), FRAME)?;
        let mut left = RunReader::new(left_file, ArrayCodec::<(u64, K, V)>::new());
        let (mut rows, mut tagged) = (Vec::new(), Vec::new());
        while let Some(batch) = left.next_batch()? {
            for (at, key, value) in batch {
                emit(&key, &value, table.index.get(&key), &mut rows);
                tagged.extend(rows.drain(..).map(|row| (at, row)));
            }
            out.write(&tagged)?;
            tagged.clear();
        }
        outputs.push(Box::new(RunReader::new(
            out.finish()?,
            ArrayCodec::<(u64, R)>::new(),
        )));
    }
    let by_position = Arc::new(|a: &(u64, R), b: &(u64, R)| a.0.cmp(&b.0));
    let merged = merge_sorted(
        outputs,
        by_position,
        ArrayCodec::new(),
        memory,
        spill,
        BATCH,
        FRAME,
    )?;
    Ok(Flow::Stream(Box::new(merged.map(|batch| {
        batch.map(|rows| rows.into_iter().map(|(_, row)| row).collect())
    }))))
}
