//! Stage outputs in the shared store: reading them (`StageData`) and
//! committing a task attempt's output (first commit wins).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shoal_core::{
    Block, Bytes, Plan, ShuffleInput, StageData, StageOutput, StageRef, TaskError, TaskOutput,
};
use shoal_store::{partition, Store, StoreError};

use crate::{keys, results};

/// Results of earlier stages a worker already fetched, per stage: every
/// task of a reading stage needs the same ones.
pub(crate) type ResultsCache = Mutex<HashMap<u32, Arc<Vec<Bytes>>>>;

/// Reads committed outputs of one job from the store.
pub(crate) struct StoreData<'a> {
    pub store: &'a Store,
    pub job_id: &'a str,
    pub plan: &'a Plan,
    pub results: &'a ResultsCache,
}

impl StageData for StoreData<'_> {
    /// Reads each map task's footer (one suffix request per object) and
    /// hands back the bucket's byte ranges; the bytes themselves are
    /// streamed by the reader as it goes.
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<ShuffleInput, TaskError> {
        let stage = self.plan.stage(from);
        let StageOutput::Shuffle { buckets } = stage.output() else {
            return Err(TaskError::fatal(format!(
                "stage {} has no shuffle output",
                from.0
            )));
        };
        let blocks = (0..stage.partitions())
            .map(|map| {
                let key = keys::shuffle_object(self.job_id, from.0, map);
                let range = partition::bucket_range(self.store, &key, partition, buckets)?;
                Ok(Block::Stored {
                    store: self.store.clone(),
                    key,
                    range,
                })
            })
            .collect::<Result<Vec<_>, TaskError>>()?;
        Ok(ShuffleInput::new(blocks))
    }

    fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError> {
        let cached = self
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&from.0)
            .cloned();
        if let Some(results) = cached {
            return Ok(results.as_ref().clone());
        }
        let partitions = self.plan.stage(from).partitions();
        let fetched = results::read_stage(self.store, self.job_id, from.0, partitions)?;
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(from.0, Arc::new(fetched.clone()));
        Ok(fetched)
    }
}

/// The store key a task's output is committed under.
pub(crate) fn output_key(job_id: &str, plan: &Plan, stage: u32, partition: u32) -> String {
    match plan.stages()[stage as usize].output() {
        StageOutput::Results => keys::result_object(job_id, stage, partition),
        StageOutput::Shuffle { .. } => keys::shuffle_object(job_id, stage, partition),
    }
}

/// The size of (stage, partition)'s committed output object, if it has one.
pub(crate) fn committed_size(
    store: &Store,
    job_id: &str,
    plan: &Plan,
    stage: u32,
    partition: u32,
) -> Result<Option<u64>, StoreError> {
    match store.size(&output_key(job_id, plan, stage, partition)) {
        Ok(size) => Ok(Some(size)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// How a finished attempt's output was committed.
pub(crate) enum Committed {
    /// This attempt wrote the store object at `key`.
    Written {
        /// Where.
        key: String,
        /// How many bytes.
        bytes: u64,
    },
    /// Another attempt had committed first, which is correct too: both
    /// computed the same thing.
    Earlier,
    /// A small result: the report carries it (see `results.rs`).
    Inline(Bytes),
}

/// Commits `output`: small results go back inline, everything else to the
/// store, where the first commit wins.
pub(crate) fn commit(
    store: &Store,
    job_id: &str,
    plan: &Plan,
    stage: u32,
    partition: u32,
    output: TaskOutput,
) -> Result<Committed, TaskError> {
    let key = output_key(job_id, plan, stage, partition);
    let parts = match plan.stages()[stage as usize].output() {
        StageOutput::Results => {
            let result = output.result.unwrap_or_default();
            if result.len() <= results::INLINE_LIMIT {
                return Ok(Committed::Inline(result));
            }
            vec![result]
        }
        StageOutput::Shuffle { buckets } => {
            // Buckets a task spilled while running are gathered back here:
            // a cluster output is one object per task.
            let mut output = output;
            let written = (0..buckets as usize)
                .map(|b| output.bucket_bytes(b).map(Bytes::from))
                .collect::<Result<Vec<_>, _>>()?;
            partition::encode(written)
        }
    };
    let bytes = parts.iter().map(|part| part.len() as u64).sum();
    Ok(match store.put_if_absent_parts(&key, parts)? {
        true => Committed::Written { key, bytes },
        false => Committed::Earlier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_core::Stage;

    /// A plan of one results stage and one shuffle stage of two buckets.
    fn plan() -> Plan {
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("results", 1, |_| Ok(())));
        plan.add_stage(Stage::new("shuffle", 1, |_| Ok(())).shuffle_output(2));
        plan
    }

    fn output(result: Option<Bytes>, buckets: Vec<Vec<u8>>) -> TaskOutput {
        TaskOutput {
            buckets,
            result,
            ..TaskOutput::default()
        }
    }

    /// Two attempts of one partition both succeed (a speculative copy, a
    /// resubmitted task whose first worker was only slow): the first
    /// commit stands, the second changes nothing and says so.
    #[test]
    fn the_first_commit_wins_and_a_later_one_changes_nothing() {
        let store = Store::open(&format!("memory://first-commit-{}", std::process::id())).unwrap();
        let plan = plan();
        let big = |byte| Bytes::from(vec![byte; results::INLINE_LIMIT + 1]);
        let first = commit(&store, "j", &plan, 0, 0, output(Some(big(b'a')), vec![])).unwrap();
        assert!(matches!(first, Committed::Written { .. }));
        let later = commit(&store, "j", &plan, 0, 0, output(Some(big(b'b')), vec![])).unwrap();
        assert!(matches!(later, Committed::Earlier));
        let stored = store.get(&output_key("j", &plan, 0, 0)).unwrap();
        assert!(stored == big(b'a'), "the later attempt replaced the result");

        let buckets = |b: &str| vec![b.as_bytes().to_vec(), b.repeat(2).into_bytes()];
        let first = commit(&store, "j", &plan, 1, 0, output(None, buckets("x"))).unwrap();
        assert!(matches!(first, Committed::Written { .. }));
        let later = commit(&store, "j", &plan, 1, 0, output(None, buckets("y"))).unwrap();
        assert!(matches!(later, Committed::Earlier));
        let results = ResultsCache::default();
        let data = StoreData {
            store: &store,
            job_id: "j",
            plan: &plan,
            results: &results,
        };
        let read = data
            .shuffle_input(StageRef(1), 1)
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(read, ["xx".as_bytes()]);
    }
}
