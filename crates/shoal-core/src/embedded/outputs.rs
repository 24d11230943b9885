//! Committed stage outputs of one embedded job run, in memory up to a
//! budget and spilled to a store beyond it.
//!
//! Each partition of each stage has one write-once slot. Committing an
//! attempt fills the slot; a slot that is already full means another
//! attempt committed first, and this one is dropped. That is the whole
//! commit protocol in embedded mode: the slot is the commit record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use bytes::Bytes;
use shoal_store::{partition, Store};

use crate::{Plan, StageData, StageOutput, StageRef, TaskError, TaskOutput};

/// One committed task output.
enum Committed {
    /// A result blob.
    Result(Bytes),
    /// Shuffle buckets held in memory.
    Buckets(Vec<Bytes>),
    /// Shuffle buckets spilled as a partition file.
    Spilled { key: String, offsets: Vec<u64> },
}

/// The committed outputs of every stage of one job run.
pub(crate) struct JobOutputs<'a> {
    job_id: &'a str,
    plan: &'a Plan,
    stages: Vec<RwLock<Vec<OnceLock<Committed>>>>,
    in_memory: AtomicU64,
    budget: u64,
    spill_url: &'a str,
    spill: OnceLock<Result<Store, String>>,
}

impl<'a> JobOutputs<'a> {
    pub(crate) fn new(job_id: &'a str, plan: &'a Plan, budget: u64, spill_url: &'a str) -> Self {
        let stages = plan
            .stages()
            .iter()
            .map(|s| RwLock::new((0..s.partitions()).map(|_| OnceLock::new()).collect()))
            .collect();
        JobOutputs {
            job_id,
            plan,
            stages,
            in_memory: AtomicU64::new(0),
            budget,
            spill_url,
            spill: OnceLock::new(),
        }
    }

    fn spill_store(&self) -> Result<&Store, TaskError> {
        self.spill
            .get_or_init(|| Store::open(self.spill_url).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| TaskError::new(format!("cannot open spill store: {e}")))
    }

    /// Commits `output` as the output of (`stage`, `partition`). Returns
    /// the bytes spilled to the store (0 when kept in memory, or when an
    /// earlier attempt had already committed and this one is dropped).
    pub(crate) fn commit(
        &self,
        stage: usize,
        partition: u32,
        attempt: u32,
        output: TaskOutput,
    ) -> Result<u64, TaskError> {
        let slots = self.stages[stage].read().unwrap_or_else(|p| p.into_inner());
        let slot = &slots[partition as usize];
        if slot.get().is_some() {
            return Ok(0);
        }
        let committed = match self.plan.stages()[stage].output() {
            StageOutput::Results => Committed::Result(output.result.unwrap_or_default()),
            StageOutput::Shuffle { buckets } => {
                self.commit_buckets(stage, partition, attempt, buckets, output.buckets)?
            }
        };
        let spilled = match &committed {
            Committed::Spilled { offsets, .. } => offsets.last().copied().unwrap_or(0),
            _ => 0,
        };
        Ok(if slot.set(committed).is_ok() {
            spilled
        } else {
            0
        })
    }

    fn commit_buckets(
        &self,
        stage: usize,
        partition: u32,
        attempt: u32,
        buckets: u32,
        mut written: Vec<Vec<u8>>,
    ) -> Result<Committed, TaskError> {
        written.resize_with(buckets as usize, Vec::new);
        let size: u64 = written.iter().map(|b| b.len() as u64).sum();
        let buckets: Vec<Bytes> = written.into_iter().map(compact).collect();
        let before = self.in_memory.fetch_add(size, Ordering::Relaxed);
        if before + size <= self.budget {
            return Ok(Committed::Buckets(buckets));
        }
        self.in_memory.fetch_sub(size, Ordering::Relaxed);
        let key = format!("{}/s{stage}/p{partition}.a{attempt}", self.job_id);
        let mut offsets = Vec::with_capacity(buckets.len() + 1);
        let mut at = 0u64;
        offsets.push(at);
        for bucket in &buckets {
            at += bucket.len() as u64;
            offsets.push(at);
        }
        self.spill_store()?
            .put_if_absent_parts(&key, partition::encode(buckets))?;
        Ok(Committed::Spilled { key, offsets })
    }

    /// Drops the outputs of `stage` once no later stage reads them.
    pub(crate) fn release(&self, stage: usize) {
        let mut slots = self.stages[stage]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        for slot in slots.iter() {
            if let Some(Committed::Buckets(buckets)) = slot.get() {
                let size: u64 = buckets.iter().map(|b| b.len() as u64).sum();
                self.in_memory.fetch_sub(size, Ordering::Relaxed);
            }
        }
        slots.clear();
    }

    /// Deletes this run's spill files.
    pub(crate) fn cleanup(&self) {
        if let Some(Ok(store)) = self.spill.get() {
            // Best effort: a leftover spill file wastes disk, never correctness,
            // because keys are unique per job run.
            let _ = store.delete_prefix(self.job_id);
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
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<Vec<Bytes>, TaskError> {
        let slots = self.stages[from.index()]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut blocks = Vec::with_capacity(slots.len());
        for (map, slot) in slots.iter().enumerate() {
            let block = match slot.get() {
                Some(Committed::Buckets(buckets)) => buckets[partition as usize].clone(),
                Some(Committed::Spilled { key, offsets }) => {
                    let range = offsets[partition as usize]..offsets[partition as usize + 1];
                    self.spill_store()?.get_range(key, range)?
                }
                _ => return Err(self.missing(from, map)),
            };
            blocks.push(block);
        }
        if slots.is_empty() && self.plan.stage(from).partitions() > 0 {
            return Err(self.missing(from, 0));
        }
        Ok(blocks)
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
            .map(|(index, slot)| match slot.get() {
                Some(Committed::Result(blob)) => Ok(blob.clone()),
                _ => Err(self.missing(from, index)),
            })
            .collect()
    }
}
