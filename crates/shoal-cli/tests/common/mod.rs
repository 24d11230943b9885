//! Helpers shared by the `shoal` end-to-end tests that run processes.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use shoal_core::{run_job, EmbeddedConfig, EmbeddedExecutor, JobSpec, NoProgress, Registry};
use shoal_testkit::LocalCluster;

/// The binary under test.
pub const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// The task stream of the stock `noop` job.
pub const NOOP_TASKS: &str = "shoal:tasks:noop@1";

/// A registry holding only the stock `noop` job.
pub fn noop_registry() -> Registry {
    Registry::new().with(Arc::new(shoal_jobs::Noop))
}

/// The results of `spec` run embedded on [`noop_registry`]: what a
/// cluster must return for it.
pub fn embedded_results(spec: JobSpec) -> Vec<shoal_core::Bytes> {
    let exec = EmbeddedExecutor::new(EmbeddedConfig::default());
    run_job(&exec, &noop_registry(), spec, &NoProgress)
        .unwrap()
        .results
}

/// Asserts that no entry of `stream` is pending in the workers' group of
/// `cluster`'s Redis (every task a worker took was acknowledged).
pub fn assert_none_pending(cluster: &LocalCluster, stream: &str) {
    assert_eq!(
        cluster
            .redis()
            .cli(&["XPENDING", stream, "workers"])
            .first(),
        Some(&"0".to_string()),
        "entries left pending in {stream}"
    );
}

/// A `shoal` command with `env` set.
pub fn shoal_cmd(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(SHOAL);
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Pids of live processes other than `shoal` ones (a driver's own
/// command line names its mapper) whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    shoal_testkit::live_processes("cmdline", |cmdline| {
        let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        !program.ends_with(b"/shoal") && String::from_utf8_lossy(cmdline).contains(needle)
    })
}

/// Waits (30 s at most) until at least `count` processes carry `marker`
/// in their command line, e.g. a job's mappers.
pub fn wait_for_processes(marker: &str, count: usize, what: &str) {
    shoal_testkit::eventually(Duration::from_secs(30), what, || {
        processes_with(marker).len() >= count
    });
}

/// Waits (`patience` at most) until no process carries `marker` in its
/// command line.
pub fn wait_none_left(marker: &str, patience: Duration, what: &str) {
    shoal_testkit::eventually(patience, what, || processes_with(marker).is_empty());
}

/// The part files (`part-*`) of the output directory `out`, in name
/// order, concatenated.
pub fn part_files(out: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", out.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("part-"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| std::fs::read_to_string(out.join(n)).unwrap())
        .collect()
}
