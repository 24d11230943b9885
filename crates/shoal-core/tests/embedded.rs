//! End-to-end tests of the embedded executor on small purpose-built jobs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use shoal_core::*;

/// Counts `n` synthetic keys (`i * 7919 % keys`) with a hash shuffle:
/// map → per-key counts → one merged, sorted text result.
struct CountJob;

fn decode_pairs(block: &[u8]) -> impl Iterator<Item = (u64, u64)> + '_ {
    block.chunks_exact(16).map(|c| {
        (
            u64::from_le_bytes(c[..8].try_into().unwrap()),
            u64::from_le_bytes(c[8..].try_into().unwrap()),
        )
    })
}

impl Job for CountJob {
    fn name(&self) -> &'static str {
        "count"
    }
    fn describe(&self) -> &'static str {
        "counts synthetic keys"
    }
    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let n = params["n"].as_u64().unwrap();
        let keys = params["keys"].as_u64().unwrap().max(1);
        let maps = params["maps"].as_u64().unwrap() as u32;
        let reduces = params["reduces"].as_u64().unwrap() as u32;
        let mut plan = Plan::new();
        let map = plan.add_stage(
            Stage::new("map", maps, move |ctx| {
                let (p, parts) = (ctx.partition() as u64, ctx.partitions() as u64);
                let mut counts = BTreeMap::new();
                for i in (0..n).filter(|i| i % parts == p) {
                    *counts.entry(i * 7919 % keys).or_insert(0u64) += 1;
                }
                for (key, count) in counts {
                    let bucket = (key % reduces as u64) as u32;
                    let out = ctx.bucket(bucket);
                    out.extend_from_slice(&key.to_le_bytes());
                    out.extend_from_slice(&count.to_le_bytes());
                }
                Ok(())
            })
            .shuffle_output(reduces),
        );
        let reduce = plan.add_stage(
            Stage::new("reduce", reduces, move |ctx| {
                let mut counts = BTreeMap::new();
                for block in ctx.shuffle_input(map)?.read_all()? {
                    for (key, count) in decode_pairs(&block) {
                        *counts.entry(key).or_insert(0u64) += count;
                    }
                }
                let text: String = counts.iter().map(|(k, c)| format!("{k}={c}\n")).collect();
                ctx.set_result(text.into_bytes().into());
                Ok(())
            })
            .reads(map),
        );
        plan.add_stage(
            Stage::new("merge", 1, move |ctx| {
                let mut lines: Vec<String> = Vec::new();
                for blob in ctx.results_of(reduce)? {
                    lines.extend(
                        String::from_utf8(blob.to_vec())
                            .unwrap()
                            .lines()
                            .map(String::from),
                    );
                }
                lines.sort();
                ctx.set_result(lines.join("\n").into_bytes().into());
                Ok(())
            })
            .reads(reduce),
        );
        Ok(plan)
    }
}

fn executor(threads: usize, budget: u64, spill: &str) -> EmbeddedExecutor {
    EmbeddedExecutor::new(EmbeddedConfig {
        threads,
        max_attempts: 3,
        memory_budget: budget,
        work_dir: spill.into(),
    })
}

fn count(
    exec: &EmbeddedExecutor,
    n: u64,
    maps: u32,
    reduces: u32,
    progress: &dyn ProgressSink,
) -> Bytes {
    let registry = Registry::new().with(Arc::new(CountJob));
    let spec = JobSpec::new(
        "count",
        json!({"n": n, "keys": 997, "maps": maps, "reduces": reduces}),
    );
    let output = run_job(exec, &registry, spec, progress).unwrap();
    assert_eq!(output.results.len(), 1);
    output.results[0].clone()
}

#[test]
fn same_output_for_any_threads_and_partitions() {
    let spill = tempfile::tempdir().unwrap();
    let spill = spill.path().to_str().unwrap();
    let expected = count(&executor(1, u64::MAX, spill), 50_000, 1, 1, &NoProgress);
    assert!(expected.len() > 1000);
    for threads in [1, 2, 8] {
        for partitions in [1, 7, 64] {
            let got = count(
                &executor(threads, u64::MAX, spill),
                50_000,
                partitions,
                partitions,
                &NoProgress,
            );
            assert_eq!(got, expected, "threads={threads} partitions={partitions}");
        }
    }
}

#[test]
fn empty_input_gives_empty_result() {
    let spill = tempfile::tempdir().unwrap();
    let got = count(
        &executor(2, u64::MAX, spill.path().to_str().unwrap()),
        0,
        7,
        5,
        &NoProgress,
    );
    assert!(got.is_empty());
}

/// Records spill events.
#[derive(Default)]
struct SpillCounter(Mutex<u64>);
impl ProgressSink for SpillCounter {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Spilled { bytes, .. } = event {
            *self.0.lock().unwrap() += bytes;
        }
    }
}

#[test]
fn small_memory_budget_spills_and_gives_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().to_str().unwrap();
    let expected = count(&executor(2, u64::MAX, spill), 60_000, 16, 8, &NoProgress);
    let spills = SpillCounter::default();
    let got = count(&executor(2, 1024, spill), 60_000, 16, 8, &spills);
    assert_eq!(got, expected);
    assert!(
        *spills.0.lock().unwrap() > 10_000,
        "expected the budget to force spilling"
    );
    // Spill files are removed once the job is done.
    let leftover: Vec<_> = walk(dir.path());
    assert!(leftover.is_empty(), "spill files left behind: {leftover:?}");
}

/// Sums the output bytes of committed attempts, by stage.
#[derive(Default)]
struct OutputSizes(Mutex<BTreeMap<u32, u64>>);
impl ProgressSink for OutputSizes {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::TaskFinished {
            stage, bytes_out, ..
        } = event
        {
            *self.0.lock().unwrap().entry(*stage).or_default() += bytes_out;
        }
    }
}

#[test]
fn committed_outputs_are_sized_whether_spilled_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().to_str().unwrap();
    let (roomy, tight) = (OutputSizes::default(), OutputSizes::default());
    let result = count(&executor(2, u64::MAX, spill), 60_000, 16, 8, &roomy);
    count(&executor(2, 1024, spill), 60_000, 16, 8, &tight);
    let sizes = roomy.0.into_inner().unwrap();
    // Every map task's (key, count) pairs, 16 bytes each; the merged result.
    assert_eq!(sizes[&0] % 16, 0, "{sizes:?}");
    assert!(sizes[&0] >= 997 * 16, "{sizes:?}");
    assert_eq!(sizes[&2], result.len() as u64, "{sizes:?}");
    // Buckets written to spill files count as much as those in memory.
    assert_eq!(tight.0.into_inner().unwrap(), sizes);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A map task that writes its rows, then fails on its first two attempts.
struct FlakyJob {
    attempts: Arc<AtomicU32>,
}

impl Job for FlakyJob {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn describe(&self) -> &'static str {
        "fails twice, then succeeds"
    }
    fn plan(&self, _params: &serde_json::Value) -> Result<Plan, JobError> {
        let attempts = self.attempts.clone();
        let mut plan = Plan::new();
        let map = plan.add_stage(
            Stage::new("map", 3, move |ctx| {
                for bucket in 0..2 {
                    ctx.bucket(bucket).extend_from_slice(b"row;");
                }
                if ctx.partition() == 1 {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    if ctx.attempt() < 2 {
                        return Err(TaskError::new(format!("flaky failure {}", ctx.attempt())));
                    }
                }
                Ok(())
            })
            .shuffle_output(2),
        );
        plan.add_stage(
            Stage::new("rows", 2, move |ctx| {
                let rows = ctx.shuffle_input(map)?.len() / 4;
                ctx.set_result(rows.to_string().into_bytes().into());
                Ok(())
            })
            .reads(map),
        );
        Ok(plan)
    }
}

#[test]
fn a_task_failing_twice_commits_exactly_once() {
    let attempts = Arc::new(AtomicU32::new(0));
    let registry = Registry::new().with(Arc::new(FlakyJob {
        attempts: attempts.clone(),
    }));
    let output = run_job(
        &executor(2, u64::MAX, "memory://flaky"),
        &registry,
        JobSpec::new("flaky", json!({})),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    // 3 map tasks × 1 row per bucket: a leaked failed attempt would add rows.
    assert_eq!(output.results, vec![Bytes::from("3"), Bytes::from("3")]);
}

/// Panics in partition 2 on every attempt.
struct PanicJob;

impl Job for PanicJob {
    fn name(&self) -> &'static str {
        "panics"
    }
    fn describe(&self) -> &'static str {
        "always panics"
    }
    fn plan(&self, _params: &serde_json::Value) -> Result<Plan, JobError> {
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("boom", 4, |ctx| {
            if ctx.partition() == 2 {
                panic!("the disk is lava");
            }
            Ok(())
        }));
        Ok(plan)
    }
}

#[test]
fn an_always_panicking_task_fails_the_job_naming_task_and_panic() {
    let registry = Registry::new().with(Arc::new(PanicJob));
    let err = run_job(
        &executor(2, u64::MAX, "memory://panics"),
        &registry,
        JobSpec::new("panics", json!({})),
        &NoProgress,
    )
    .unwrap_err();
    let JobError::TaskFailed {
        stage,
        partition,
        ref attempts,
        ..
    } = err
    else {
        panic!("unexpected error {err}");
    };
    assert_eq!((stage, partition), (0, 2));
    assert_eq!(attempts.len(), 3);
    let message = err.to_string();
    assert!(message.contains("stage 0 (boom), partition 2"), "{message}");
    assert!(message.contains("the disk is lava"), "{message}");
    assert!(!err.is_user_input());
}

/// Fails with an input error: must not be retried.
struct BadInputJob;

impl Job for BadInputJob {
    fn name(&self) -> &'static str {
        "bad-input"
    }
    fn describe(&self) -> &'static str {
        "rejects its input"
    }
    fn plan(&self, _params: &serde_json::Value) -> Result<Plan, JobError> {
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("read", 1, |_| {
            Err(TaskError::input("events.csv:7: unparsable ts 'yesterday'"))
        }));
        Ok(plan)
    }
}

#[test]
fn input_errors_are_not_retried_and_keep_their_line() {
    let registry = Registry::new().with(Arc::new(BadInputJob));
    let err = run_job(
        &executor(1, u64::MAX, "memory://bad"),
        &registry,
        JobSpec::new("bad-input", json!({})),
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.is_user_input());
    assert_eq!(
        err.user_message(),
        "events.csv:7: unparsable ts 'yesterday'"
    );
    let JobError::TaskFailed { attempts, .. } = err else {
        panic!()
    };
    assert_eq!(attempts.len(), 1);
}

#[test]
fn unknown_job_lists_the_registered_ones() {
    let registry = Registry::new()
        .with(Arc::new(PanicJob))
        .with(Arc::new(CountJob));
    let err = run_job(
        &executor(1, u64::MAX, "memory://x"),
        &registry,
        JobSpec::new("nope", json!({})),
        &NoProgress,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown job 'nope' (registered: count, panics)"
    );
    assert!(err.is_user_input());
}

#[test]
fn a_plan_reading_a_later_stage_is_rejected() {
    let mut plan = Plan::new();
    let a = plan.add_stage(Stage::new("a", 1, |_| Ok(())).shuffle_output(3));
    plan.add_stage(Stage::new("b", 2, |_| Ok(())).reads(a));
    let err = plan.validate("j").unwrap_err();
    assert!(
        err.to_string()
            .contains("has 2 partitions but reads a shuffle of 3 buckets"),
        "{err}"
    );
}

/// Map tasks that write far more than the memory budget, spilling their
/// staged buckets as they go; reduce tasks stream their input in small
/// pieces and sum it.
struct BigMapJob;

impl Job for BigMapJob {
    fn name(&self) -> &'static str {
        "big-map"
    }
    fn describe(&self) -> &'static str {
        "writes more than the budget per map task"
    }
    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let rows = params["rows"].as_u64().unwrap_or(0);
        let mut plan = Plan::new();
        let map = plan.add_stage(
            Stage::new("map", 2, move |ctx| {
                for i in 0..rows {
                    let value = i * 2 + u64::from(ctx.partition());
                    ctx.bucket((value % 3) as u32)
                        .extend_from_slice(&value.to_le_bytes());
                    if i % 128 == 0 {
                        ctx.spill_output_if_needed()?;
                    }
                }
                Ok(())
            })
            .shuffle_output(3),
        );
        let reduce = plan.add_stage(
            Stage::new("reduce", 3, move |ctx| {
                let (mut count, mut sum) = (0u64, 0u64);
                for block in ctx.shuffle_input(map)? {
                    for chunk in block.chunks(4096) {
                        for value in chunk?.chunks_exact(8) {
                            count += 1;
                            sum += u64::from_le_bytes(value.try_into().unwrap());
                        }
                    }
                }
                ctx.set_result(format!("{count} {sum}\n").into_bytes().into());
                Ok(())
            })
            .reads(map),
        );
        plan.add_stage(
            Stage::new("total", 1, move |ctx| {
                let all: Vec<u8> = ctx.results_of(reduce)?.concat();
                ctx.set_result(all.into());
                Ok(())
            })
            .reads(reduce),
        );
        Ok(plan)
    }
}

#[test]
fn map_outputs_far_beyond_the_budget_spill_in_segments_and_stream_back() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new().with(Arc::new(BigMapJob));
    let run = |budget: u64| {
        let exec = executor(2, budget, dir.path().to_str().unwrap());
        let spec = JobSpec::new("big-map", json!({"rows": 40_000}));
        let output = run_job(&exec, &registry, spec, &NoProgress).unwrap();
        (output.results[0].clone(), exec.last_memory_stats().unwrap())
    };
    let (expected, unbounded) = run(u64::MAX);
    assert_eq!(unbounded.spilled_bytes, 0);
    // 2 × 40,000 rows of 8 bytes: 640 KB, 20× a 32 KiB budget.
    let budget = 32 << 10;
    let (got, stats) = run(budget);
    assert_eq!(got, expected);
    assert!(stats.spilled_bytes >= 500_000, "{stats:?}");
    assert!(stats.spill_files > 4, "{stats:?}");
    assert!(stats.peak_held <= budget, "held {stats:?}");
    let leftover = walk(dir.path());
    assert!(leftover.is_empty(), "spill files left behind: {leftover:?}");
}

/// Three map tasks write one bucket each (a broadcast), spilling it in
/// segments under a small budget; each of four readers reads every map
/// task's block whole, by range and in pieces.
struct BroadcastJob;

impl Job for BroadcastJob {
    fn name(&self) -> &'static str {
        "broadcast"
    }
    fn describe(&self) -> &'static str {
        "every reader reads every map task's single bucket"
    }
    fn plan(&self, _params: &serde_json::Value) -> Result<Plan, JobError> {
        let mut plan = Plan::new();
        let map = plan.add_stage(
            Stage::new("map", 3, move |ctx| {
                let value = ctx.partition() as u8;
                for _ in 0..100 {
                    ctx.bucket(0).extend_from_slice(&[value; 1000]);
                    ctx.spill_output_if_needed()?;
                }
                Ok(())
            })
            .shuffle_output(1),
        );
        plan.add_stage(
            Stage::new("read", 4, move |ctx| {
                if ctx.partition() == 1 {
                    let err = ctx.shuffle_input(map).unwrap_err();
                    assert!(err.to_string().contains("broadcast_input"), "{err}");
                }
                let mut seen = Vec::new();
                for (m, block) in ctx.broadcast_input(map)?.into_iter().enumerate() {
                    let whole = block.read_all()?;
                    let middle = block.read_range(49_990..50_010)?;
                    let pieces: Vec<u8> = block
                        .slice(10..99_990)
                        .chunks(777)
                        .map(|c| c.map(|c| c.to_vec()))
                        .collect::<Result<Vec<_>, _>>()?
                        .concat();
                    let ok = whole.len() == 100_000
                        && whole.iter().all(|&b| b == m as u8)
                        && middle.len() == 20
                        && pieces.len() == 99_980
                        && pieces.iter().all(|&b| b == m as u8);
                    seen.push(format!("{m}:{ok}"));
                }
                ctx.set_result(format!("{}\n", seen.join(" ")).into_bytes().into());
                Ok(())
            })
            .reads(map),
        );
        Ok(plan)
    }
}

#[test]
fn a_one_bucket_shuffle_is_broadcast_to_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new().with(Arc::new(BroadcastJob));
    for budget in [u64::MAX, 16 << 10] {
        let exec = executor(2, budget, dir.path().to_str().unwrap());
        let spec = JobSpec::new("broadcast", json!({}));
        let output = run_job(&exec, &registry, spec, &NoProgress).unwrap();
        assert_eq!(output.results.len(), 4);
        for result in &output.results {
            assert_eq!(&result[..], b"0:true 1:true 2:true\n", "budget {budget}");
        }
        let spilled = exec.last_memory_stats().unwrap().spilled_bytes;
        assert_eq!(spilled > 0, budget != u64::MAX, "spilled {spilled}");
    }
}

/// Tasks that run until the job is cancelled, counting how many started.
struct UntilCancelled(Arc<AtomicU32>);

impl Job for UntilCancelled {
    fn name(&self) -> &'static str {
        "until-cancelled"
    }
    fn describe(&self) -> &'static str {
        "waits for cancellation"
    }
    fn plan(&self, _: &serde_json::Value) -> Result<Plan, JobError> {
        let started = self.0.clone();
        let mut plan = Plan::new();
        plan.add_stage(Stage::new("wait", 8, move |ctx| {
            started.fetch_add(1, Ordering::SeqCst);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !ctx.is_cancelled() {
                if std::time::Instant::now() > deadline {
                    return Err(TaskError::fatal("never cancelled"));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(TaskError::new("stopped: cancelled"))
        }));
        Ok(plan)
    }
}

#[test]
fn a_cancel_flag_set_from_outside_stops_the_job() {
    let started = Arc::new(AtomicU32::new(0));
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exec = EmbeddedExecutor::new(EmbeddedConfig {
        threads: 2,
        ..EmbeddedConfig::default()
    })
    .with_cancel(cancel.clone());
    let registry = Registry::new().with(Arc::new(UntilCancelled(started.clone())));
    let err = std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            run_job(
                &exec,
                &registry,
                JobSpec::new("until-cancelled", json!({})),
                &NoProgress,
            )
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while started.load(Ordering::SeqCst) < 2 {
            assert!(std::time::Instant::now() < deadline, "tasks never started");
            std::thread::yield_now();
        }
        cancel.store(true, Ordering::SeqCst);
        run.join().unwrap().unwrap_err()
    });
    assert!(matches!(err, JobError::Cancelled { .. }), "{err}");
    // The two running tasks stopped; no other task started.
    assert_eq!(started.load(Ordering::SeqCst), 2);
}
