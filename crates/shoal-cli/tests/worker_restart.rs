//! A worker restarted under its own name while its registration is still
//! alive (a supervisor restarting a crashed `shoal worker --name w0` at
//! once): the tasks its predecessor held must run again, or the job waits
//! for them forever (chaos finding 1). Real processes on loopback; every
//! wait polls a condition under a deadline.

use std::process::Child;
use std::time::Duration;

use serde_json::json;
use shoal_cluster::{ClusterConfig, ClusterExecutor};
use shoal_core::{run_job, JobSpec, NoProgress};
use shoal_testkit::{eventually, try_eventually, LocalCluster};

mod common;
use common::{assert_none_pending, embedded_results, noop_registry, NOOP_TASKS as STREAM, SHOAL};

/// Far longer than the test may take: the predecessor's registration
/// never expires, so expiry cannot be what rescues its tasks.
const HEARTBEAT_TTL: &str = "300s";
/// How long the job may take after the restart.
const PATIENCE: Duration = Duration::from_secs(60);

/// Kills the restarted worker when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_worker_restarted_under_its_name_within_its_ttl_strands_no_task() {
    let mut cluster = LocalCluster::start(SHOAL, 1, &["--heartbeat-ttl", HEARTBEAT_TTL]);
    // Six tasks of 2 s on one worker of 2 slots: it holds two at a time.
    let spec = JobSpec::new("noop", json!({"tasks": 6, "sleep_ms": 2000, "echo": true}));
    let mut config = ClusterConfig::new(cluster.coord(), &cluster.store());
    config.worker_timeout = Duration::from_secs(2);
    // A straggler's second attempt would also end the job; this is about
    // the held tasks themselves.
    config.speculation = false;
    let exec = ClusterExecutor::new(config).unwrap();
    let job = spec.clone();
    let driver = std::thread::spawn(move || {
        run_job(&exec, &noop_registry(), job, &NoProgress).map(|o| o.results)
    });

    eventually(Duration::from_secs(30), "w0 to hold tasks", || {
        let held = cluster
            .redis()
            .cli(&["XPENDING", STREAM, "workers", "-", "+", "10", "w0"]);
        if held.is_empty() {
            Err("nothing pending under w0".to_string())
        } else {
            Ok(())
        }
    });
    cluster.workers_mut().kill(0);
    let _restarted = Reaped(cluster.workers().spec().spawn("w0"));

    let finished = try_eventually(PATIENCE, || driver.is_finished());
    assert!(
        finished.is_ok(),
        "the job still waits for the tasks the first w0 held; pending: {:?}",
        cluster.redis().cli(&["XPENDING", STREAM, "workers"])
    );
    let results = driver.join().unwrap().expect("the job completes");
    assert_eq!(results, embedded_results(spec));
    assert_none_pending(&cluster, STREAM);
}
