//! Stage outputs in the shared store: reading them (`StageData`) and
//! committing a task attempt's output (first commit wins).

use shoal_core::{Bytes, Plan, StageData, StageOutput, StageRef, TaskError, TaskOutput};
use shoal_store::{partition, Store, StoreError};

use crate::keys;

/// Reads committed outputs of one job from the store.
pub(crate) struct StoreData<'a> {
    pub store: &'a Store,
    pub job_id: &'a str,
    pub plan: &'a Plan,
}

impl StageData for StoreData<'_> {
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<Vec<Bytes>, TaskError> {
        let stage = self.plan.stage(from);
        let StageOutput::Shuffle { buckets } = stage.output() else {
            return Err(TaskError::fatal(format!(
                "stage {} has no shuffle output",
                from.0
            )));
        };
        (0..stage.partitions())
            .map(|map| {
                let key = keys::shuffle_object(self.job_id, from.0, map);
                partition::read_bucket(self.store, &key, partition, buckets)
                    .map_err(TaskError::from)
            })
            .collect()
    }

    fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError> {
        (0..self.plan.stage(from).partitions())
            .map(|p| {
                self.store
                    .get(&keys::result_object(self.job_id, from.0, p))
                    .map_err(TaskError::from)
            })
            .collect()
    }
}

/// The store key a task's output is committed under.
pub(crate) fn output_key(job_id: &str, plan: &Plan, stage: u32, partition: u32) -> String {
    match plan.stages()[stage as usize].output() {
        StageOutput::Results => keys::result_object(job_id, stage, partition),
        StageOutput::Shuffle { .. } => keys::shuffle_object(job_id, stage, partition),
    }
}

/// Whether (stage, partition) already has a committed output.
pub(crate) fn is_committed(
    store: &Store,
    job_id: &str,
    plan: &Plan,
    stage: u32,
    partition: u32,
) -> Result<bool, StoreError> {
    match store.size(&output_key(job_id, plan, stage, partition)) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Commits `output`; `Ok(false)` means another attempt had committed first
/// (this one is discarded, which is correct: both computed the same thing).
pub(crate) fn commit(
    store: &Store,
    job_id: &str,
    plan: &Plan,
    stage: u32,
    partition: u32,
    output: TaskOutput,
) -> Result<bool, TaskError> {
    let key = output_key(job_id, plan, stage, partition);
    let parts = match plan.stages()[stage as usize].output() {
        StageOutput::Results => vec![output.result.unwrap_or_default()],
        StageOutput::Shuffle { buckets } => {
            let mut written = output.buckets;
            written.resize_with(buckets as usize, Vec::new);
            partition::encode(written.into_iter().map(Bytes::from).collect())
        }
    };
    Ok(store.put_if_absent_parts(&key, parts)?)
}
