//! Disk hygiene of spilling, through the real binary: a job that spills
//! leaves nothing in --work-dir when it ends, and nothing when its process
//! is killed mid-spill (spill files are anonymous), so there is never
//! anything stale to clear at the next start.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Files below `dir` the process `pid` holds open (anonymous spill files
/// show as "(deleted)" links under /proc/PID/fd).
fn open_files_below(pid: u32, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

fn sort_command(work: &Path, n: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    let params = format!("{{\"n\": {n}, \"partitions\": 4}}");
    cmd.args([
        "run",
        "array-sort",
        "--params",
        &params,
        "--quiet",
        "--threads",
        "2",
    ])
    .args(["--memory-budget", "256KiB", "--work-dir"])
    .arg(work);
    cmd
}

#[test]
fn a_spilling_job_leaves_nothing_in_the_work_dir() {
    let work = tempfile::tempdir().unwrap();
    let out = sort_command(work.path(), 400_000).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"count\":400000") || stdout.contains("\"count\": 400000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"sorted\":true") || stdout.contains("\"sorted\": true"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}

#[test]
fn a_process_killed_while_spilling_leaves_nothing_behind() {
    let work = tempfile::tempdir().unwrap();
    let mut child = sort_command(work.path(), 50_000_000)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is spilling: it holds spill files in the work dir.
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_files_below(child.id(), work.path()) == 0 {
        assert!(Instant::now() < deadline, "the job never spilled");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before spilling"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(left.is_empty(), "files left after a kill: {left:?}");
}
