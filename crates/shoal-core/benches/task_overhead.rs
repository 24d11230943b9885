//! Embedded per-task overhead: a job of N no-op tasks, run end to end
//! (plan, claim, context, attempt, commit, progress event, results).
//!
//! Peers measured on this 2-core machine for scale (see issue 2): Ray about
//! 1,900 tasks/s with 2 CPUs, Dask distributed about 600 tasks/s with 2
//! workers. Criterion prints Shoal's figure as elements per second.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use shoal_core::*;

/// `tasks` no-op tasks in one stage.
struct NoopJob;

impl Job for NoopJob {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn describe(&self) -> &'static str {
        "no-op tasks"
    }
    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let tasks = params["tasks"].as_u64().unwrap_or(0) as u32;
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("noop", tasks, |_| Ok(())));
        Ok(plan)
    }
}

fn noop_tasks(c: &mut Criterion) {
    const TASKS: u64 = 1_000_000;
    let registry = Registry::new().with(Arc::new(NoopJob));
    let executor = EmbeddedExecutor::new(EmbeddedConfig {
        threads: 2,
        ..EmbeddedConfig::default()
    });
    let mut group = c.benchmark_group("embedded");
    group.throughput(Throughput::Elements(TASKS));
    group.sample_size(10);
    group.bench_function("noop_tasks_2_threads", |b| {
        b.iter(|| {
            let spec = JobSpec::new("noop", json!({ "tasks": TASKS }));
            let out = run_job(&executor, &registry, spec, &NoProgress).unwrap();
            assert_eq!(out.results.len(), TASKS as usize);
        })
    });
    group.finish();
}

criterion_group!(benches, noop_tasks);
criterion_main!(benches);
