//! The `noop` job: scheduler overhead, nothing else.

use shoal_core::{Job, JobError, Plan, Stage};

/// `tasks` tasks that do nothing, in one stage (params: `{"tasks": N}`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Noop;

impl Job for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn describe(&self) -> &'static str {
        "N tasks that do nothing (scheduler benchmarks)"
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let tasks = params
            .get("tasks")
            .and_then(|t| t.as_u64())
            .filter(|&t| t <= u32::MAX as u64)
            .ok_or_else(|| {
                JobError::invalid_input("noop", "params need \"tasks\": 0..=4294967295")
            })?;
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("noop", tasks as u32, |_| Ok(())));
        Ok(plan)
    }
}
