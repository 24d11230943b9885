//! The `noop` job: scheduler overhead, nothing else.

use std::time::Duration;

use shoal_core::{Bytes, Job, JobError, OutputFormat, Plan, Stage};

/// `tasks` tasks in one stage that do nothing. Params:
/// `{"tasks": N, "sleep_ms": M, "echo": bool}` — `sleep_ms` makes each task
/// take M ms (a stand-in for real work in fault-injection tests), `echo`
/// makes task p return `p` as its result so runs can be compared. The
/// job's result is `{"tasks": N}`, with `"echoed"`: the sum of the echoed
/// partitions when `echo` is set.
#[derive(Debug, Default, Clone, Copy)]
pub struct Noop;

impl Job for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn describe(&self) -> &'static str {
        "N tasks that do nothing (scheduler benchmarks)"
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    fn finish(&self, params: &serde_json::Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let mut summary = serde_json::json!({ "tasks": results.len() });
        if params.get("echo").and_then(|e| e.as_bool()) == Some(true) {
            let echoed: u64 = results
                .iter()
                .filter_map(|r| std::str::from_utf8(r).ok()?.parse::<u64>().ok())
                .sum();
            summary["echoed"] = echoed.into();
        }
        Ok(Bytes::from(format!("{summary}\n")))
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let tasks = params
            .get("tasks")
            .and_then(|t| t.as_u64())
            .filter(|&t| t <= u32::MAX as u64)
            .ok_or_else(|| {
                JobError::invalid_input("noop", "params need \"tasks\": 0..=4294967295")
            })?;
        let sleep =
            Duration::from_millis(params.get("sleep_ms").and_then(|s| s.as_u64()).unwrap_or(0));
        let echo = params
            .get("echo")
            .and_then(|e| e.as_bool())
            .unwrap_or(false);
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("noop", tasks as u32, move |ctx| {
            if !sleep.is_zero() {
                std::thread::sleep(sleep);
            }
            if echo {
                ctx.set_result(Bytes::from(ctx.partition().to_string()));
            }
            Ok(())
        }));
        Ok(plan)
    }
}
