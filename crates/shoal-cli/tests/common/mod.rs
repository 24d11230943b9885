//! Helpers shared by the `shoal` end-to-end tests that run processes.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The binary under test.
pub const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

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
