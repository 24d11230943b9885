//! Processes of this run: signals, and finding orphans.
//!
//! The harness puts `SHOAL_CHAOS_RUN=<run id>` in its own environment
//! before it starts anything, so every process it starts — servers,
//! workers, drivers and whatever they start in turn — inherits it. A
//! process carrying the mark that is neither a server nor a live worker
//! is an orphan, however it came to be (a killed worker's child, a driver
//! that outlived its kill). After a crash of the harness itself, the next
//! run finds and kills the processes of the dead run by the same mark.

use std::path::PathBuf;

/// The environment variable marking this run's processes.
pub const MARK: &str = "SHOAL_CHAOS_RUN";

/// A process carrying a run's mark.
#[derive(Debug, Clone)]
pub struct Marked {
    /// Process id.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// The executable's file name (`redis-server`, `shoal`, …).
    pub exe: String,
    /// The command line, for reports.
    pub cmdline: String,
}

impl Marked {
    /// Whether it is one of the servers the harness runs (Redis, its
    /// Sentinels, `s3s-fs`): those are accounted for by their handles.
    pub fn is_server(&self) -> bool {
        matches!(
            self.exe.as_str(),
            "redis-server" | "redis-sentinel" | "s3s-fs"
        )
    }
}

/// Every process (but this one) whose environment carries `MARK=run`.
pub fn marked(run: &str) -> Vec<Marked> {
    let needle = format!("{MARK}={run}");
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let base = PathBuf::from(format!("/proc/{pid}"));
            let environ = std::fs::read(base.join("environ")).ok()?;
            if !environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                return None;
            }
            let exe = std::fs::read_link(base.join("exe"))
                .ok()
                .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
                .unwrap_or_default();
            let cmdline = std::fs::read(base.join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            // A zombie has no exe and no command line: its parent (one of
            // ours) reaps it, it holds nothing.
            if exe.is_empty() && cmdline.is_empty() {
                return None;
            }
            Some(Marked {
                pid,
                ppid: parent_of(pid).unwrap_or(0),
                exe,
                cmdline: cmdline.trim().to_string(),
            })
        })
        .collect()
}

/// The parent pid from `/proc/PID/stat` (the field after the command name,
/// which may itself contain spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` to `pid`; false when there is no such process.
pub fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Kills every process carrying the mark of `run` (a run that died
/// without tearing down); returns how many there were.
pub fn kill_marked(run: &str) -> usize {
    let found = marked(run);
    for process in &found {
        signal(process.pid, libc::SIGCONT);
        signal(process.pid, libc::SIGKILL);
    }
    found.len()
}
