//! Replies lost between a worker and Redis: the command ran, the worker
//! never heard, and its connection retries it — so Redis sees it twice.
//! A proxy (`shoal_testkit::ReplyDropper`) drops the chosen reply, as a
//! dropped connection or a worker stopped by SIGSTOP inside the read
//! would. (A lost claim reply is `crates/shoal-cli/tests/lost_claim.rs`.)
//! The worker runs in this process; every wait polls under a deadline.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shoal_cluster::{ClusterExecutor, WorkerConfig};
use shoal_core::{run_job, Job, JobError, NoProgress, Plan, Registry, Stage, TaskError};
use shoal_testkit::{contains_bytes, ReplyDropper};

mod common;
use common::InProcessCluster;

const FAILURE: &str = "transient fault, first attempt only";

/// One task whose first attempt fails retryably and whose second succeeds.
struct FlakyOnce;

impl Job for FlakyOnce {
    fn name(&self) -> &'static str {
        "flaky-once"
    }

    fn describe(&self) -> &'static str {
        "one task failing its first attempt"
    }

    fn plan(&self, _params: &Value) -> Result<Plan, JobError> {
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("work", 1, |ctx| {
            if ctx.attempt() == 0 {
                return Err(TaskError::new(FAILURE));
            }
            ctx.set_result(b"done".to_vec().into());
            Ok(())
        }));
        Ok(plan)
    }
}

fn registry() -> Registry {
    Registry::new().with(Arc::new(FlakyOnce))
}

#[test]
fn a_failure_report_sent_twice_counts_as_one_failure() {
    let mut cluster = InProcessCluster::empty();
    // The reporter's first batch with the failure: Redis appends the
    // report, the reply is lost, the reporter sends the batch again.
    let proxy = ReplyDropper::start(cluster.redis.port(), |command, _reply| {
        contains_bytes(command, b"XACK") && contains_bytes(command, FAILURE.as_bytes())
    });
    let worker = WorkerConfig {
        coord_url: proxy.url(),
        heartbeat_ttl: Duration::from_secs(5),
        ..cluster.worker_config("w0", 1)
    };
    cluster.spawn(worker, registry());
    cluster.wait_for_workers(1);

    // Two attempts allowed: the one failure leaves room for a second.
    let mut config = cluster.driver_config();
    config.max_attempts = 2;
    let executor = ClusterExecutor::new(config).unwrap();
    let outcome = run_job(
        &executor,
        &registry(),
        shoal_core::JobSpec::new("flaky-once", json!({})),
        &NoProgress,
    );
    cluster.stop_workers();

    assert!(
        proxy.dropped().is_some(),
        "the proxy never dropped the report's reply: the fault did not happen"
    );
    let output = outcome.expect("one failure of two attempts allowed: the job succeeds");
    assert_eq!(
        output.results,
        vec![shoal_core::Bytes::from_static(b"done")]
    );
}
