//! The cluster driver on a real Redis with an in-process worker, seen
//! through its record of the job (the trace the dashboard reads):
//!
//! - speculation: a straggler — a task *running* far longer than its
//!   stage's median — gets a second attempt, and a task that merely
//!   waited in the queue for a slot does not;
//! - output bytes: workers' reports size every task's output, inline
//!   results and stored ones alike.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shoal_cluster::dashboard::DashboardReader;
use shoal_cluster::trace::JobTrace;
use shoal_cluster::ClusterExecutor;
use shoal_core::{run_job, Job, JobError, JobSpec, NoProgress, Plan, Registry, Stage};
use shoal_testkit::eventually;

mod common;
use common::InProcessCluster;

/// (token, partition, attempt) of every attempt that ran.
fn ran() -> &'static Mutex<HashSet<(String, u32, u32)>> {
    static RAN: OnceLock<Mutex<HashSet<(String, u32, u32)>>> = OnceLock::new();
    RAN.get_or_init(Mutex::default)
}

fn has_run(token: &str, partition: u32, attempt: u32) -> bool {
    let ran = ran().lock().unwrap_or_else(|p| p.into_inner());
    ran.contains(&(token.to_string(), partition, attempt))
}

/// Ends the tasks of jobs run with `hold`.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// `tasks` tasks of `task_ms` each; with `straggler`, partition 0's first
/// attempt runs until its second attempt has run (at most 30 s); with
/// `hold`, every task runs until [`RELEASED`] (at most 30 s). With
/// `sizes`, one task per size, each returning a result of that many bytes.
struct SleepyJob;

impl Job for SleepyJob {
    fn name(&self) -> &'static str {
        "sleepy"
    }

    fn describe(&self) -> &'static str {
        "tasks that sleep, one of them until it is speculated on"
    }

    fn plan(&self, params: &Value) -> Result<Plan, JobError> {
        let token = params["token"].as_str().unwrap_or_default().to_string();
        let sizes: Vec<usize> = params["sizes"]
            .as_array()
            .map(|sizes| {
                sizes
                    .iter()
                    .filter_map(|s| s.as_u64())
                    .map(|s| s as usize)
                    .collect()
            })
            .unwrap_or_default();
        let tasks = match sizes.len() {
            0 => params["tasks"].as_u64().unwrap_or(1) as u32,
            n => n as u32,
        };
        let task_ms = params["task_ms"].as_u64().unwrap_or(0);
        let straggler = params["straggler"].as_bool().unwrap_or(false);
        let hold = params["hold"].as_bool().unwrap_or(false);
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("sleep", tasks, move |ctx| {
            let (p, attempt) = (ctx.partition(), ctx.attempt());
            ran()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((token.clone(), p, attempt));
            if hold {
                let deadline = Instant::now() + Duration::from_secs(30);
                while !RELEASED.load(Ordering::Relaxed) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            } else if straggler && p == 0 && attempt == 0 {
                let deadline = Instant::now() + Duration::from_secs(30);
                while !has_run(&token, 0, 1) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            } else {
                std::thread::sleep(Duration::from_millis(task_ms));
            }
            let result = match sizes.get(p as usize) {
                Some(&size) => vec![b'x'; size],
                None => p.to_string().into_bytes(),
            };
            ctx.set_result(result.into());
            Ok(())
        }));
        Ok(plan)
    }
}

fn registry() -> Registry {
    Registry::new().with(Arc::new(SleepyJob))
}

/// Redis, a store directory and one worker of `slots` slots, in this process.
struct Cluster(InProcessCluster);

impl Cluster {
    fn start(slots: usize) -> Cluster {
        Cluster(InProcessCluster::start(1, slots, "spec-w", registry))
    }

    /// Runs a sleepy job with speculation on; its trace and its token.
    fn run(&self, params: Value) -> (JobTrace, String) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let token = format!("run-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut params = params;
        params["token"] = json!(token);
        let output_id = self.run_kept(params, Duration::from_secs(86_400));
        let mut reader = DashboardReader::open(&self.0.redis.url()).unwrap();
        let jobs = reader
            .jobs(std::slice::from_ref(&output_id), &|_| true)
            .unwrap();
        let trace = jobs[0].trace.clone().expect("the driver wrote a trace");
        (trace, token)
    }

    /// Runs a sleepy job (speculation on) whose record is kept `history`
    /// after it ends; its id.
    fn run_kept(&self, params: Value, history: Duration) -> String {
        let mut config = self.0.driver_config();
        config.worker_timeout = Duration::from_secs(5);
        config.speculation = true;
        config.history = history;
        let executor = ClusterExecutor::new(config).unwrap();
        let spec = JobSpec::new("sleepy", params);
        let output = run_job(&executor, &registry(), spec, &NoProgress).expect("the job succeeds");
        output.job_id
    }

    fn redis(&self) -> redis::Connection {
        let client = redis::Client::open(self.0.redis.url()).unwrap();
        client.get_connection().unwrap()
    }
}

/// One slot, twelve tasks of 300 ms: the last ones wait in the queue for
/// almost 3 s, past the 2 s floor of the straggler threshold, yet each
/// runs for 300 ms. Timed from submission they would look like stragglers.
#[test]
fn a_task_that_waited_in_the_queue_is_not_taken_for_a_straggler() {
    let cluster = Cluster::start(1);
    let (trace, _) = cluster.run(json!({"tasks": 12, "task_ms": 300}));
    assert_eq!(
        trace.stages[0].speculative, 0,
        "queued tasks were speculated on"
    );
}

/// Two slots, eight tasks of 100 ms but partition 0's first attempt, which
/// runs until a second attempt of it has run: only speculation ends it.
#[test]
fn a_task_running_far_longer_than_the_median_gets_a_second_attempt() {
    let cluster = Cluster::start(2);
    let (trace, token) = cluster.run(json!({"tasks": 8, "task_ms": 100, "straggler": true}));
    assert_eq!(trace.stages[0].speculative, 1);
    assert!(
        has_run(&token, 0, 1),
        "no second attempt of the straggler ran"
    );
}

/// Results around the inline limit (64 KiB) and beyond: the ones that
/// travel in reports and the ones the store holds are both counted.
#[test]
fn the_record_sizes_every_task_output_inline_or_stored() {
    let cluster = Cluster::start(2);
    let sizes = [0usize, 1, 65_535, 65_536, 65_537, 1 << 20];
    let (trace, _) = cluster.run(json!({ "sizes": sizes }));
    assert!(trace.output_sizes);
    assert_eq!(
        trace.stages[0].bytes_out,
        sizes.iter().sum::<usize>() as u64
    );
}

/// Whether job `id` is in the job index.
fn listed(redis: &mut redis::Connection, id: &str) -> bool {
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("shoal:jobs")
        .arg(id)
        .query(redis)
        .unwrap();
    score.is_some()
}

fn exists(redis: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query(redis).unwrap()
}

/// A finished job leaves the job index, and its trace, once its record
/// has expired (1 s here): the next job's start prunes it. A job still
/// running stays, however long ago it started.
#[test]
fn a_finished_job_leaves_the_job_index_after_its_retention_and_a_running_one_stays() {
    let cluster = Cluster::start(2);
    let mut redis = cluster.redis();
    let retention = Duration::from_secs(1);
    let finished = cluster.run_kept(json!({"tasks": 2}), retention);
    assert!(listed(&mut redis, &finished));
    std::thread::scope(|scope| {
        let long = scope.spawn(|| cluster.run_kept(json!({"tasks": 1, "hold": true}), retention));
        eventually(
            Duration::from_secs(30),
            "the finished job's record to expire and the running one to be older than that",
            || {
                let ids: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg("shoal:jobs")
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut redis)
                    .unwrap();
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as f64;
                let running_long = ids
                    .iter()
                    .any(|(id, started)| *id != finished && now_ms - started > 1500.0);
                let expired = !exists(&mut redis, &format!("shoal:job:{finished}"));
                if running_long && expired {
                    Ok(())
                } else {
                    Err(ids)
                }
            },
        );
        let next = cluster.run_kept(json!({"tasks": 1}), retention);
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg("shoal:jobs")
            .arg(0)
            .arg(-1)
            .query(&mut redis)
            .unwrap();
        RELEASED.store(true, Ordering::Relaxed);
        let long = long.join().unwrap();
        assert!(
            !ids.contains(&finished),
            "the expired job is still listed: {ids:?}"
        );
        assert!(!exists(&mut redis, &format!("shoal:job:{finished}:trace")));
        assert!(
            ids.contains(&long),
            "the running job left the index: {ids:?}"
        );
        assert!(ids.contains(&next), "{ids:?}");
    });
}
