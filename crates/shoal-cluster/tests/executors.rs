//! One suite of executor behaviours, run against both executors: the
//! embedded one, and the cluster one on a real Redis with two in-process
//! workers (`shoal_cluster::Worker`, the code `shoal worker` runs) over a
//! shared directory store. Each behaviour is one function over a
//! [`Harness`]; the `suite!` macro instantiates every one for each side,
//! so a behaviour one executor lacks fails under that executor's name.
//!
//! "First commit wins" is not here: no run of the embedded executor
//! commits a partition twice, and on a cluster the order of two
//! successful attempts' commits cannot be forced from a task. Each
//! executor's commit layer checks it instead, with two commits of one
//! partition (`shoal-core`'s `embedded/outputs.rs`, this crate's
//! `data.rs`); what the suite checks is that a failed attempt's output is
//! never seen.
//!
//! The jobs are built for the suite (one job, `suite`, whose `case`
//! parameter picks the plan). Tasks count their runs in this process —
//! workers run in it too — under a token unique to each run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shoal_cluster::ClusterExecutor;
use shoal_core::{
    run_job, Bytes, EmbeddedConfig, EmbeddedExecutor, Executor, Job, JobError, JobOutput, JobSpec,
    NoProgress, Plan, Registry, Stage, TaskError, TaskErrorKind,
};
use shoal_testkit::eventually;

mod common;
use common::InProcessCluster;

/// Attempts per task in every run of the suite.
const MAX_ATTEMPTS: u32 = 3;
/// Result sizes around the cluster's inline limit (64 KiB) and beyond.
const SIZES: [usize; 6] = [0, 1, 65_535, 65_536, 65_537, 3 << 20];

// ----- the job -----

/// Runs per (token, stage, partition), counted by the tasks themselves.
type RunCounts = HashMap<(String, u32, u32), u32>;

fn runs() -> &'static Mutex<RunCounts> {
    static RUNS: OnceLock<Mutex<RunCounts>> = OnceLock::new();
    RUNS.get_or_init(Mutex::default)
}

/// The run counts; a test failing while it holds them does not fail the
/// others.
fn counts() -> std::sync::MutexGuard<'static, RunCounts> {
    runs().lock().unwrap_or_else(|p| p.into_inner())
}

fn count_run(token: &str, stage: u32, partition: u32) {
    let mut runs = counts();
    *runs
        .entry((token.to_string(), stage, partition))
        .or_default() += 1;
}

fn runs_of(token: &str) -> u32 {
    counts()
        .iter()
        .filter(|((t, _, _), _)| t == token)
        .map(|(_, n)| n)
        .sum()
}

/// The bytes partition `p` of the `sizes` case returns.
fn sized(p: usize) -> Bytes {
    (0..SIZES[p])
        .map(|i| (i * 31 + p) as u8)
        .collect::<Vec<u8>>()
        .into()
}

struct SuiteJob;

impl Job for SuiteJob {
    fn name(&self) -> &'static str {
        "suite"
    }

    fn describe(&self) -> &'static str {
        "executor conformance cases"
    }

    fn plan(&self, params: &Value) -> Result<Plan, JobError> {
        let token = params["token"].as_str().unwrap_or_default().to_string();
        let case = params["case"].as_str().unwrap_or_default().to_string();
        let mut plan = Plan::new();
        if case == "empty" {
            let none = plan.add_stage(Stage::new("none", 0, |_| Ok(())));
            plan.add_stage(
                Stage::new("count", 1, move |ctx| {
                    let n = ctx.results_of(none)?.len();
                    ctx.set_result(n.to_string().into_bytes().into());
                    Ok(())
                })
                .reads(none),
            );
            return Ok(plan);
        }
        let partitions = match case.as_str() {
            "sizes" => SIZES.len() as u32,
            _ => 4,
        };
        plan.add_stage(Stage::new("work", partitions, move |ctx| {
            let (p, attempt) = (ctx.partition(), ctx.attempt());
            count_run(&token, 0, p);
            match case.as_str() {
                "flaky" if attempt == 0 => {
                    // Output of a failed attempt must never be seen.
                    ctx.set_result(Bytes::from_static(b"from a failed attempt"));
                    return Err(TaskError::new(format!("transient fault in p{p}")));
                }
                "panics_once" if attempt == 0 => panic!("first attempt of p{p} panics"),
                "always_panics" if p == 1 => panic!("p1 always panics"),
                "input" if p == 2 => return Err(TaskError::input("data.csv:7: bad row")),
                "fatal" if p == 2 => return Err(TaskError::fatal("corrupt partition file")),
                "until_cancelled" => {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while !ctx.is_cancelled() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                "sizes" => {
                    ctx.set_result(sized(p as usize));
                    return Ok(());
                }
                _ => {}
            }
            ctx.set_result(p.to_string().into_bytes().into());
            Ok(())
        }));
        Ok(plan)
    }
}

fn registry() -> Registry {
    Registry::new().with(Arc::new(SuiteJob))
}

/// A spec for `case` with a token no other run shares.
fn spec(case: &str) -> (JobSpec, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let token = format!("{case}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let spec = JobSpec::new("suite", json!({"case": case, "token": token}));
    (spec, token)
}

// ----- the two sides -----

/// An executor under test.
trait Harness {
    /// Runs `spec`; setting `cancel` cancels the run.
    fn run(&self, spec: JobSpec, cancel: Arc<AtomicBool>) -> Result<JobOutput, JobError>;
}

struct Embedded;

impl Harness for Embedded {
    fn run(&self, spec: JobSpec, cancel: Arc<AtomicBool>) -> Result<JobOutput, JobError> {
        let config = EmbeddedConfig {
            threads: 2,
            max_attempts: MAX_ATTEMPTS,
            ..EmbeddedConfig::default()
        };
        let executor = EmbeddedExecutor::new(config).with_cancel(cancel);
        run_job(&executor, &registry(), spec, &NoProgress)
    }
}

/// The cluster side: a driver on the in-process cluster (two workers of
/// two slots, see the `suite!` below).
impl Harness for InProcessCluster {
    fn run(&self, spec: JobSpec, cancel: Arc<AtomicBool>) -> Result<JobOutput, JobError> {
        let mut config = self.driver_config();
        config.max_attempts = MAX_ATTEMPTS;
        config.worker_timeout = Duration::from_secs(2);
        // A speculative copy of a task would change the run counts the
        // suite checks; speculation has tests of its own.
        config.speculation = false;
        config.cancel = Some(cancel);
        let executor = ClusterExecutor::new(config).unwrap();
        run_job(&executor as &dyn Executor, &registry(), spec, &NoProgress)
    }
}

// ----- the behaviours -----

fn run(harness: &dyn Harness, case: &str) -> (Result<JobOutput, JobError>, String) {
    let (spec, token) = spec(case);
    (harness.run(spec, Arc::default()), token)
}

fn texts(output: &JobOutput) -> Vec<String> {
    output
        .results
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

fn task_failure(result: Result<JobOutput, JobError>) -> (u32, Vec<String>, TaskErrorKind) {
    match result {
        Err(JobError::TaskFailed {
            partition,
            attempts,
            kind,
            ..
        }) => (partition, attempts, kind),
        other => panic!("not a task failure: {other:?}"),
    }
}

/// A retryable failure is retried, and the failed attempt's output is
/// discarded: only the successful attempt's result is seen.
fn retryable_failures_are_retried_and_their_output_discarded(harness: &dyn Harness) {
    let (result, token) = run(harness, "flaky");
    let output = result.expect("every task succeeds on its second attempt");
    assert_eq!(texts(&output), ["0", "1", "2", "3"]);
    assert_eq!(runs_of(&token), 8, "each of 4 tasks ran twice");
}

/// A panic is retried like any retryable failure (see shoal_core::retry).
fn a_panic_is_retried(harness: &dyn Harness) {
    let (result, _) = run(harness, "panics_once");
    let output = result.expect("every task succeeds after its panic");
    assert_eq!(texts(&output), ["0", "1", "2", "3"]);
}

/// A task that panics every time fails the job after the attempt limit,
/// with every attempt's panic message.
fn a_task_that_always_panics_fails_after_every_attempt(harness: &dyn Harness) {
    let (result, token) = run(harness, "always_panics");
    let (partition, attempts, kind) = task_failure(result);
    assert_eq!((partition, kind), (1, TaskErrorKind::Retryable));
    assert_eq!(attempts.len(), MAX_ATTEMPTS as usize, "{attempts:?}");
    for (i, attempt) in attempts.iter().enumerate() {
        assert!(
            attempt.starts_with(&format!("attempt {}", i + 1)),
            "{attempt}"
        );
        assert!(attempt.contains("p1 always panics"), "{attempt}");
    }
    let p1_runs = counts()[&(token, 0, 1)];
    assert_eq!(p1_runs, MAX_ATTEMPTS);
}

/// Input and fatal errors are never retried; an input error reports the
/// task's own message.
fn input_and_fatal_errors_are_not_retried(harness: &dyn Harness) {
    let (result, token) = run(harness, "input");
    let (partition, attempts, kind) = task_failure(result);
    assert_eq!((partition, kind), (2, TaskErrorKind::Input));
    assert_eq!(attempts, ["data.csv:7: bad row"]);
    assert_eq!(counts()[&(token, 0, 2)], 1);
    let (result, token) = run(harness, "fatal");
    let (partition, attempts, kind) = task_failure(result);
    assert_eq!((partition, kind), (2, TaskErrorKind::Fatal));
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(
        attempts[0].contains("corrupt partition file"),
        "{attempts:?}"
    );
    assert_eq!(counts()[&(token, 0, 2)], 1);
}

/// Setting the cancel flag ends a running job with `Cancelled`, promptly:
/// running tasks see it and stop.
fn cancellation_ends_the_run(harness: &dyn Harness) {
    let (spec, token) = spec("until_cancelled");
    let cancel = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    std::thread::scope(|scope| {
        let flag = cancel.clone();
        let canceller = scope.spawn(move || {
            eventually(
                Duration::from_secs(30),
                "a task to start",
                || match runs_of(&token) {
                    0 => Err(0),
                    n => Ok(n),
                },
            );
            flag.store(true, Ordering::Relaxed);
        });
        let result = harness.run(spec, cancel.clone());
        canceller.join().unwrap();
        assert!(
            matches!(result, Err(JobError::Cancelled { .. })),
            "{result:?}"
        );
    });
    // Tasks wait up to 30 s for the flag: far less means they saw it.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
}

/// A stage without tasks runs (nothing) and a later stage reads its
/// empty results.
fn an_empty_stage_is_read_as_no_results(harness: &dyn Harness) {
    let (result, _) = run(harness, "empty");
    assert_eq!(texts(&result.expect("runs")), ["0"]);
}

/// Results come back byte for byte whatever their size: empty, tiny, on
/// both sides of the cluster's inline limit, and megabytes.
fn results_of_every_size_come_back_exactly(harness: &dyn Harness) {
    let (result, _) = run(harness, "sizes");
    let output = result.expect("runs");
    assert_eq!(output.results.len(), SIZES.len());
    for (p, got) in output.results.iter().enumerate() {
        assert!(*got == sized(p), "partition {p}: {} bytes", got.len());
    }
}

macro_rules! suite {
    ($side:ident, $harness:expr) => {
        mod $side {
            use super::*;

            #[test]
            fn retryable_failures_are_retried_and_their_output_discarded() {
                super::retryable_failures_are_retried_and_their_output_discarded(&$harness);
            }

            #[test]
            fn a_panic_is_retried() {
                super::a_panic_is_retried(&$harness);
            }

            #[test]
            fn a_task_that_always_panics_fails_after_every_attempt() {
                super::a_task_that_always_panics_fails_after_every_attempt(&$harness);
            }

            #[test]
            fn input_and_fatal_errors_are_not_retried() {
                super::input_and_fatal_errors_are_not_retried(&$harness);
            }

            #[test]
            fn cancellation_ends_the_run() {
                super::cancellation_ends_the_run(&$harness);
            }

            #[test]
            fn an_empty_stage_is_read_as_no_results() {
                super::an_empty_stage_is_read_as_no_results(&$harness);
            }

            #[test]
            fn results_of_every_size_come_back_exactly() {
                super::results_of_every_size_come_back_exactly(&$harness);
            }
        }
    };
}

suite!(embedded, Embedded);
suite!(cluster, InProcessCluster::start(2, 2, "suite-w", registry));
