//! The operating-system side of "no orphans": each program runs as the
//! leader of a process group of its own, and everything in that group is
//! killed when the task ends, however it ends.
//!
//! Three nets, from the common case to the rare one:
//! - **the group**: the child calls `setpgid(0, 0)` before `exec`, so the
//!   shell, its pipelines and anything they start share one group, and
//!   `kill(-pgid, SIGKILL)` reaches them all. The leader is waited for
//!   with `WNOWAIT` and reaped only *after* the group is killed: an
//!   unreaped leader keeps its pid (= the group id) from being reused, so
//!   the kill can never hit a stranger's group.
//! - **the parent-death signal**: `PR_SET_PDEATHSIG` kills the leader if
//!   the thread that started it dies (a worker killed with SIGKILL), and
//!   the closed pipes end most programs that were reading or writing.
//! - **the task token**: every process of an attempt inherits
//!   `SHOAL_TASK_TOKEN`; after the attempt, any process still carrying it
//!   (one that left the group with `setsid`, say) is found in `/proc` and
//!   killed ([`kill_by_token`]).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `command` start as the leader of a new process group that dies
/// with the thread starting it.
pub(crate) fn configure(command: &mut Command) {
    command.process_group(0);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no
            // signal will ever come, so leave now.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
}

/// Blocks until process `pid` (our child) has exited, without reaping it.
pub(crate) fn wait_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sends SIGKILL to every process of group `pgid`. A group with no member
/// left is not an error.
pub(crate) fn kill_group(pgid: u32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

/// The environment variable every process of an attempt inherits.
pub const TOKEN_VAR: &str = "SHOAL_TASK_TOKEN";

/// Kills every process (but this one) whose environment carries
/// `SHOAL_TASK_TOKEN=<token>`; returns how many were found. Processes of
/// other users cannot be read and are skipped.
pub fn kill_by_token(token: &str) -> usize {
    let me = std::process::id();
    let needle = format!("{TOKEN_VAR}={token}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|&b| b == 0)
            .any(|var| var == needle.as_bytes())
        {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}
