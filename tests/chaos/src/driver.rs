//! A job's driver: the `shoal` command a user would run, as a process the
//! nemesis can kill or pause, its output kept in files.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::procs;

/// A running (or finished) job command.
pub struct Driver {
    child: Child,
    /// When it started.
    pub started: Instant,
    status: Option<ExitStatus>,
    ended_at: Option<Instant>,
    paused: bool,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// What a driver left: its status (None when it had to be killed at its
/// deadline), stdout and stderr.
pub struct Ended {
    /// Exit status, or None for a hang.
    pub status: Option<ExitStatus>,
    /// Everything it printed on stdout.
    pub stdout: Vec<u8>,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub took: std::time::Duration,
}

impl Driver {
    /// Starts `shoal ARGS` with `env`, writing stdout and stderr to
    /// `NAME.out` and `NAME.err` in `dir`.
    pub fn spawn(
        shoal: &PathBuf,
        args: &[String],
        env: &[(&str, String)],
        dir: &std::path::Path,
        name: &str,
    ) -> Result<Driver> {
        let (stdout, stderr) = (
            dir.join(format!("{name}.out")),
            dir.join(format!("{name}.err")),
        );
        let out = std::fs::File::create(&stdout)
            .with_context(|| format!("creating {}", stdout.display()))?;
        let err = std::fs::File::create(&stderr)
            .with_context(|| format!("creating {}", stderr.display()))?;
        let child = Command::new(shoal)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("running {}", shoal.display()))?;
        Ok(Driver {
            child,
            started: Instant::now(),
            status: None,
            ended_at: None,
            paused: false,
            stdout,
            stderr,
        })
    }

    /// Whether it still runs (reaping it once it ended).
    pub fn running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
            if self.status.is_some() {
                self.ended_at = Some(Instant::now());
            }
        }
        self.status.is_none()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.ended_at.get_or_insert_with(Instant::now);
        self.paused = false;
    }

    /// SIGSTOP.
    pub fn pause(&mut self) {
        if self.running() {
            procs::signal(self.child.id(), libc::SIGSTOP);
            self.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        if self.paused {
            procs::signal(self.child.id(), libc::SIGCONT);
            self.paused = false;
        }
    }

    /// Kills it if it still runs (a hang) and collects what it left.
    pub fn end(mut self) -> Ended {
        let hung = self.running();
        if hung {
            self.resume();
            self.kill();
        }
        let took = self.ended_at.unwrap_or_else(Instant::now) - self.started;
        Ended {
            took,
            status: if hung { None } else { self.status },
            stdout: std::fs::read(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.running() {
            self.resume();
            self.kill();
        }
    }
}
