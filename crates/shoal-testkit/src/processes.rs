//! Processes seen through `/proc`, for tests that must leave none behind
//! (a job's mappers, a task's shell and its children).

use std::path::Path;

/// Pids of live processes (zombies left out) whose `/proc/PID/FILE` —
/// `cmdline` or `environ`, NUL-separated — satisfies `matches`.
/// Processes that end while being read are skipped.
///
/// # Panics
/// When `/proc` cannot be listed: finding nothing there would let every
/// "no process left behind" check pass without looking.
pub fn live_processes(file: &str, matches: impl Fn(&[u8]) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir("/proc").unwrap_or_else(|e| panic!("cannot list /proc: {e}"));
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(content) = std::fs::read(entry.path().join(file)) else {
            continue;
        };
        if matches(&content) && !is_zombie(&entry.path()) {
            found.push(pid);
        }
    }
    found
}

/// Whether process `pid` has exited (gone, or a zombie not yet reaped).
pub fn exited(pid: u32) -> bool {
    is_zombie(&Path::new("/proc").join(pid.to_string()))
}

/// Whether `/proc/PID/stat` says the process is a zombie; a process that
/// is gone counts as one.
fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|s| {
            // The state follows the command name, which may hold spaces
            // and parentheses: it comes after the last ')'.
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_live_and_found_by_its_command_line() {
        let me = std::process::id();
        assert!(!exited(me));
        let program = std::env::args().next().unwrap();
        let found = live_processes("cmdline", |c| c.starts_with(program.as_bytes()));
        assert!(found.contains(&me), "{found:?}");
        assert!(live_processes("cmdline", |_| false).is_empty());
    }

    #[test]
    fn a_reaped_child_has_exited() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(exited(pid));
    }
}
