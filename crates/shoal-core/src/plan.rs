//! Plans: ordered stages of partitioned tasks.

use std::fmt;
use std::sync::Arc;

use crate::{JobError, TaskContext, TaskError};

/// The code a stage runs for each of its partitions.
pub type TaskFn = Arc<dyn Fn(&mut TaskContext<'_>) -> Result<(), TaskError> + Send + Sync>;

/// Names a stage of a plan; handed out by [`Plan::add_stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageRef(pub u32);

impl StageRef {
    /// The stage's index in its plan.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a stage's tasks hand to later stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageOutput {
    /// One result blob per task.
    Results,
    /// One bucket per downstream partition per task (a shuffle).
    Shuffle {
        /// The number of buckets = partitions of the stage that reads them.
        buckets: u32,
    },
}

/// One stage: a name, a task count and the task code.
#[derive(Clone)]
pub struct Stage {
    pub(crate) name: String,
    pub(crate) partitions: u32,
    pub(crate) output: StageOutput,
    pub(crate) reads: Vec<StageRef>,
    pub(crate) task: TaskFn,
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .field("partitions", &self.partitions)
            .field("output", &self.output)
            .field("reads", &self.reads)
            .finish()
    }
}

impl Stage {
    /// A stage of `partitions` tasks running `task`; by default each task
    /// produces one result blob.
    pub fn new(
        name: &str,
        partitions: u32,
        task: impl Fn(&mut TaskContext<'_>) -> Result<(), TaskError> + Send + Sync + 'static,
    ) -> Stage {
        Stage {
            name: name.to_string(),
            partitions,
            output: StageOutput::Results,
            reads: Vec::new(),
            task: Arc::new(task),
        }
    }

    /// Makes the tasks write a shuffle with `buckets` buckets instead of results.
    pub fn shuffle_output(mut self, buckets: u32) -> Stage {
        self.output = StageOutput::Shuffle { buckets };
        self
    }

    /// Declares that this stage reads `from`'s output. Executors keep an
    /// output only until the last stage that reads it has finished.
    pub fn reads(mut self, from: StageRef) -> Stage {
        if !self.reads.contains(&from) {
            self.reads.push(from);
        }
        self
    }

    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many tasks (partitions) the stage has.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// What the tasks produce.
    pub fn output(&self) -> StageOutput {
        self.output
    }

    /// The earlier stages this stage reads.
    pub fn inputs(&self) -> &[StageRef] {
        &self.reads
    }

    /// The task code.
    pub fn task(&self) -> &TaskFn {
        &self.task
    }
}

/// A job's stages, run in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    stages: Vec<Stage>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `stage`; returns the handle later stages read it by.
    pub fn add_stage(&mut self, stage: Stage) -> StageRef {
        self.stages.push(stage);
        StageRef(self.stages.len() as u32 - 1)
    }

    /// The stages in execution order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The stage `stage` refers to.
    pub fn stage(&self, stage: StageRef) -> &Stage {
        &self.stages[stage.index()]
    }

    /// Checks the wiring: stages read only earlier stages, a shuffle has as
    /// many buckets as each reader has partitions (or one bucket, read
    /// whole by every reader: a broadcast), and the last stage produces
    /// results.
    pub fn validate(&self, job: &str) -> Result<(), JobError> {
        let bad = |message: String| JobError::Setup {
            job: job.to_string(),
            message,
        };
        let Some(last) = self.stages.last() else {
            return Err(bad("the plan has no stages".into()));
        };
        if last.output != StageOutput::Results {
            return Err(bad(format!(
                "last stage '{}' must produce results",
                last.name
            )));
        }
        for (index, stage) in self.stages.iter().enumerate() {
            for from in &stage.reads {
                if from.index() >= index {
                    return Err(bad(format!(
                        "stage '{}' reads stage {} which does not run before it",
                        stage.name, from.0
                    )));
                }
                if let StageOutput::Shuffle { buckets } = self.stages[from.index()].output {
                    // One bucket may be read whole by every task (a broadcast).
                    if buckets != stage.partitions && buckets != 1 {
                        return Err(bad(format!(
                            "stage '{}' has {} partitions but reads a shuffle of {} buckets",
                            stage.name, stage.partitions, buckets
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// For each stage, the index of the last stage that reads its output
    /// (itself when nothing does); outputs can be dropped after that stage.
    pub fn last_readers(&self) -> Vec<usize> {
        let mut last: Vec<usize> = (0..self.stages.len()).collect();
        for (index, stage) in self.stages.iter().enumerate() {
            for from in &stage.reads {
                last[from.index()] = last[from.index()].max(index);
            }
        }
        last
    }
}
