//! Replies lost between a worker and Redis: the command ran, the worker
//! never heard, and its connection retries it — so Redis sees it twice.
//! A proxy (`shoal_testkit::ReplyDropper`) drops the chosen reply, as a
//! dropped connection or a worker stopped by SIGSTOP inside the read
//! would. (A lost claim reply is `crates/shoal-cli/tests/lost_claim.rs`.)
//! The worker runs in this process; every wait polls under a deadline.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shoal_cluster::{ClusterConfig, ClusterExecutor, Worker, WorkerConfig};
use shoal_core::{run_job, Job, JobError, NoProgress, Plan, Registry, Stage, TaskError};
use shoal_testkit::{contains_bytes, eventually, RedisServer, ReplyDropper};

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
    let redis = RedisServer::start();
    // The reporter's first batch with the failure: Redis appends the
    // report, the reply is lost, the reporter sends the batch again.
    let proxy = ReplyDropper::start(redis.port(), |command, _reply| {
        contains_bytes(command, b"XACK") && contains_bytes(command, FAILURE.as_bytes())
    });
    let store = tempfile::tempdir().unwrap();
    let store_url = store.path().to_str().unwrap().to_string();
    let worker = Worker::new(
        WorkerConfig {
            coord_url: proxy.url(),
            store_url: store_url.clone(),
            name: "w0".into(),
            slots: 1,
            heartbeat_ttl: Duration::from_secs(5),
        },
        registry(),
    )
    .unwrap();
    let stop = worker.stop_flag();
    let worker = std::thread::spawn(move || worker.run().unwrap());
    let url = redis.url();
    eventually(Duration::from_secs(30), "the worker to register", || {
        match shoal_cluster::cluster_status(&url, 0) {
            Ok(s) if s.workers.len() == 1 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // Two attempts allowed: the one failure leaves room for a second.
    let mut config = ClusterConfig::new(&redis.url(), &store_url);
    config.max_attempts = 2;
    let executor = ClusterExecutor::new(config).unwrap();
    let outcome = run_job(
        &executor,
        &registry(),
        shoal_core::JobSpec::new("flaky-once", json!({})),
        &NoProgress,
    );
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();

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
