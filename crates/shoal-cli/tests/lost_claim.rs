//! A claim whose reply never reaches the worker (chaos finding 3): Redis
//! has put the entry in the worker's pending list, the worker's connection
//! drops before it reads the reply — as when a worker stopped by SIGSTOP
//! inside the read wakes with EINTR — and it claims again. The entry must
//! still run, or a one-task stage waits for it forever: the worker stays
//! live, so no driver reclaims it. A proxy between the worker and Redis
//! drops the first reply that delivers a task, so the fault is exact, not
//! a race (the same happens to a worker stopped inside its blocking claim
//! while the entry arrives). Real processes on loopback; every wait polls under a deadline.

use std::time::Duration;

use serde_json::json;
use shoal_cluster::{ClusterConfig, ClusterExecutor};
use shoal_core::{run_job, JobSpec, NoProgress};
use shoal_testkit::{
    contains_bytes, try_eventually, LocalCluster, ReplyDropper, WorkerSpec, Workers,
};

mod common;
use common::{assert_none_pending, noop_registry, NOOP_TASKS as STREAM, SHOAL};

/// How long the job may take: far less than it would wait for a worker
/// that holds its task without running it (forever).
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_task_whose_claim_reply_was_lost_still_runs() {
    let cluster = LocalCluster::start(SHOAL, 0, &[]);
    // The first claim (XREADGROUP, or the claim script) answered with the
    // job's task entry.
    let proxy = ReplyDropper::start(cluster.redis().port(), |command, reply| {
        (contains_bytes(command, b"XREADGROUP") || contains_bytes(command, b"EVALSHA"))
            && contains_bytes(reply, STREAM.as_bytes())
    });
    // Its registration never lapses during the test, so no driver would
    // reclaim what it holds: the worker itself must run it.
    let spec = WorkerSpec::new(SHOAL, &proxy.url(), &cluster.store(), cluster.dir())
        .slots(1)
        .args(["--heartbeat-ttl", "300s"]);
    let workers = Workers::start(spec, 1);

    // One task: nothing else can finish the stage.
    let job = JobSpec::new("noop", json!({"tasks": 1, "echo": true}));
    let exec = ClusterExecutor::new(ClusterConfig::new(cluster.coord(), &cluster.store())).unwrap();
    let driver = std::thread::spawn(move || run_job(&exec, &noop_registry(), job, &NoProgress));

    let finished = try_eventually(PATIENCE, || driver.is_finished());
    let dropped = proxy.dropped();
    assert!(
        finished.is_ok(),
        "the job still waits for its task; reply dropped: {}; pending: {:?}; worker log:\n{}",
        dropped.is_some(),
        cluster
            .redis()
            .cli(&["XPENDING", STREAM, "workers", "-", "+", "10"]),
        workers.log(0)
    );
    let output = driver.join().unwrap().expect("the job completes");
    assert_eq!(output.results.len(), 1, "{output:?}");
    let dropped = dropped.expect("the proxy dropped the reply that delivered the task");
    assert!(contains_bytes(&dropped, STREAM.as_bytes()));
    assert_none_pending(&cluster, STREAM);
}
