//! Helpers shared by the `shoal` end-to-end tests that run processes.
#![allow(dead_code)]

use std::process::Command;

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

/// Whether `/proc/PID/stat` says the process is a zombie (exited, not yet
/// reaped); a process that is gone counts as one.
fn is_zombie(proc_dir: &std::path::Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// Pids of live processes other than `shoal` ones (a driver's own
/// command line names its mapper) whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        let shoal = program.ends_with(b"/shoal");
        if !shoal && !is_zombie(&entry.path()) && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

/// Whether process `pid` has exited (gone, or a zombie not yet reaped).
pub fn exited(pid: u32) -> bool {
    is_zombie(&std::path::Path::new("/proc").join(pid.to_string()))
}
