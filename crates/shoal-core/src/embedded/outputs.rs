//! Committed stage outputs of one embedded job run, in memory while the
//! job's memory budget has room and in spill files beyond it.
//!
//! Each partition of each stage has one write-once slot. Committing an
//! attempt fills the slot; a slot that is already full means another
//! attempt committed first, and this one is dropped. That is the whole
//! commit protocol in embedded mode: the slot is the commit record.
//!
//! A committed output is a list of blocks per bucket (a results stage has
//! one bucket, its result): the segments the task spilled while running,
//! then its last staged bytes — kept in memory when the pool takes them,
//! written to one more spill file when it does not. Spill files are
//! anonymous, so releasing a stage (dropping its blocks) frees their disk.

use std::sync::{OnceLock, RwLock};

use bytes::Bytes;

use crate::{
    Block, MemoryPool, Plan, ShuffleInput, SpillSpace, StageData, StageOutput, StageRef, TaskError,
    TaskOutput,
};

/// One committed task output.
struct Committed {
    /// Per bucket, its blocks in order (one bucket for a result).
    buckets: Vec<Vec<Block>>,
    /// Bytes of it held in memory (counted in the pool).
    held: u64,
}

/// The committed outputs of every stage of one job run.
pub(crate) struct JobOutputs<'a> {
    plan: &'a Plan,
    stages: Vec<RwLock<Vec<OnceLock<Committed>>>>,
    pool: MemoryPool,
    spill: SpillSpace,
}

impl<'a> JobOutputs<'a> {
    pub(crate) fn new(plan: &'a Plan, pool: MemoryPool, spill: SpillSpace) -> Self {
        let stages = plan
            .stages()
            .iter()
            .map(|s| RwLock::new((0..s.partitions()).map(|_| OnceLock::new()).collect()))
            .collect();
        JobOutputs {
            plan,
            stages,
            pool,
            spill,
        }
    }

    /// Commits `output` as the output of (`stage`, `partition`). Returns
    /// the bytes spilled at commit (0 when kept in memory, or when an
    /// earlier attempt had already committed and this one is dropped).
    pub(crate) fn commit(
        &self,
        stage: usize,
        partition: u32,
        output: TaskOutput,
    ) -> Result<u64, TaskError> {
        let slots = self.stages[stage].read().unwrap_or_else(|p| p.into_inner());
        let slot = &slots[partition as usize];
        if slot.get().is_some() {
            return Ok(0);
        }
        let (committed, spilled) = match self.plan.stages()[stage].output() {
            StageOutput::Results => {
                let result = output.result.unwrap_or_default();
                self.keep(Vec::new(), vec![result])?
            }
            StageOutput::Shuffle { buckets } => {
                let mut tails = output.buckets;
                tails.resize_with(buckets as usize, Vec::new);
                let pieces = (0..buckets as usize)
                    .map(|b| output.segments.iter().filter_map(|s| s.piece(b)).collect())
                    .collect();
                self.keep(pieces, tails.into_iter().map(compact).collect())?
            }
        };
        let held = committed.held;
        if slot.set(committed).is_err() {
            self.pool.release_committed(held);
            return Ok(0);
        }
        Ok(spilled)
    }

    /// Appends the last staged bytes of each bucket to its spilled
    /// `pieces`: in memory when the pool has room, else as one spill file.
    fn keep(
        &self,
        mut pieces: Vec<Vec<Block>>,
        tails: Vec<Bytes>,
    ) -> Result<(Committed, u64), TaskError> {
        pieces.resize_with(tails.len(), Vec::new);
        let size: u64 = tails.iter().map(|b| b.len() as u64).sum();
        if size == 0 || self.pool.try_hold_committed(size) {
            for (bucket, tail) in pieces.iter_mut().zip(tails) {
                if !tail.is_empty() {
                    bucket.push(Block::Memory(tail));
                }
            }
            let committed = Committed {
                buckets: pieces,
                held: size,
            };
            return Ok((committed, 0));
        }
        let mut writer = self.spill.create()?;
        let mut ranges = Vec::with_capacity(tails.len());
        for tail in &tails {
            let start = writer.len();
            writer.write(tail)?;
            ranges.push(start..writer.len());
        }
        let file = writer.finish()?;
        for (bucket, range) in pieces.iter_mut().zip(ranges) {
            if !range.is_empty() {
                bucket.push(Block::Spilled {
                    file: file.clone(),
                    range,
                });
            }
        }
        let committed = Committed {
            buckets: pieces,
            held: 0,
        };
        Ok((committed, size))
    }

    /// Drops the outputs of `stage` once no later stage reads them; their
    /// memory goes back to the pool and their spill files are freed.
    pub(crate) fn release(&self, stage: usize) {
        let mut slots = self.stages[stage]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        for slot in slots.iter() {
            if let Some(committed) = slot.get() {
                self.pool.release_committed(committed.held);
            }
        }
        slots.clear();
    }

    /// Drops every output (the job ended).
    pub(crate) fn release_all(&self) {
        for stage in 0..self.stages.len() {
            self.release(stage);
        }
    }

    fn missing(&self, from: StageRef, partition: usize) -> TaskError {
        TaskError::fatal(format!(
            "output of stage {} partition {partition} is not committed (or was released)",
            from.0
        ))
    }
}

/// Buffers that grew by doubling may hold up to twice their length; give
/// the slack back before they sit in memory until the next stage.
fn compact(mut buffer: Vec<u8>) -> Bytes {
    if buffer.capacity() - buffer.len() > buffer.len() / 4 {
        buffer.shrink_to_fit();
    }
    Bytes::from(buffer)
}

impl StageData for JobOutputs<'_> {
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<ShuffleInput, TaskError> {
        let slots = self.stages[from.index()]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if slots.is_empty() && self.plan.stage(from).partitions() > 0 {
            return Err(self.missing(from, 0));
        }
        let mut blocks = Vec::with_capacity(slots.len());
        for (map, slot) in slots.iter().enumerate() {
            let committed = slot.get().ok_or_else(|| self.missing(from, map))?;
            let pieces = committed
                .buckets
                .get(partition as usize)
                .ok_or_else(|| self.missing(from, map))?;
            blocks.push(Block::concat(pieces.clone()));
        }
        Ok(ShuffleInput::new(blocks))
    }

    fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError> {
        let slots = self.stages[from.index()]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if slots.is_empty() && self.plan.stage(from).partitions() > 0 {
            return Err(self.missing(from, 0));
        }
        slots
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let committed = slot.get().ok_or_else(|| self.missing(from, index))?;
                let pieces = committed.buckets.first().cloned().unwrap_or_default();
                Block::concat(pieces).read_all()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stage;

    /// Two attempts of one partition both commit: the first stands (the
    /// embedded executor runs attempts of a partition one after the other,
    /// but the rule is the same as the cluster's store).
    #[test]
    fn the_first_commit_wins_and_a_later_one_changes_nothing() {
        let mut plan = Plan::new();
        let results = plan.add_stage(Stage::new("results", 1, |_| Ok(())));
        let pool = MemoryPool::new(1 << 20, 1);
        let spill = SpillSpace::new(std::env::temp_dir(), pool.clone());
        let outputs = JobOutputs::new(&plan, pool, spill);
        let output = |text: &'static str| TaskOutput {
            result: Some(Bytes::from_static(text.as_bytes())),
            ..TaskOutput::default()
        };
        outputs.commit(0, 0, output("first")).unwrap();
        assert_eq!(outputs.commit(0, 0, output("later")).unwrap(), 0);
        assert_eq!(outputs.results_of(results).unwrap(), ["first"]);
    }
}
