//! Worker processes of any Shoal binary, for cluster tests.
//!
//! The binary is a parameter: `shoal` itself (`env!("CARGO_BIN_EXE_shoal")`)
//! or a user's own binary built on the Shoal CLI library, as long as it
//! has the same `worker` subcommand. Every worker logs to `NAME.log` in
//! the spec's log directory (appended to by a worker started again under
//! the same name), which tests print when something fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::wait_for_status;

/// How long workers may take to register with the control plane.
const REGISTER_DEADLINE: Duration = Duration::from_secs(30);

/// How to start one worker: `BINARY worker --coord C --store S --slots N
/// --name NAME ARGS...` with extra environment variables.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    binary: PathBuf,
    coord: String,
    store: String,
    slots: u32,
    args: Vec<String>,
    env: Vec<(String, String)>,
    launcher: Vec<String>,
    log_dir: PathBuf,
}

impl WorkerSpec {
    /// Workers of `binary` with 2 slots on `coord` and `store`, logging
    /// to files in `log_dir`.
    pub fn new(binary: impl Into<PathBuf>, coord: &str, store: &str, log_dir: &Path) -> Self {
        WorkerSpec {
            binary: binary.into(),
            coord: coord.to_string(),
            store: store.to_string(),
            slots: 2,
            args: Vec::new(),
            env: Vec::new(),
            launcher: Vec::new(),
            log_dir: log_dir.to_path_buf(),
        }
    }

    /// Task slots per worker.
    pub fn slots(mut self, slots: u32) -> Self {
        self.slots = slots;
        self
    }

    /// Extra flags after the standard ones (e.g. `--heartbeat-ttl 2s`).
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Extra environment variables (e.g. an S3 server's keys).
    pub fn envs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env.extend(
            env.into_iter()
                .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())),
        );
        self
    }

    /// Runs the binary through this command and its arguments, e.g.
    /// `ip netns exec NAMESPACE`; the command must exec the binary in its
    /// place, so the child's pid is the worker's.
    pub fn launcher<S: AsRef<str>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.launcher = command
            .into_iter()
            .map(|a| a.as_ref().to_string())
            .collect();
        self
    }

    /// The `--coord` URL.
    pub fn coord(&self) -> &str {
        &self.coord
    }

    /// Where worker `name` logs (its stderr).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }

    /// Starts worker `name` without waiting for it to register.
    ///
    /// # Panics
    /// When the binary cannot be run or the log cannot be created.
    pub fn spawn(&self, name: &str) -> Child {
        let log = self.log_path(name);
        // Appended: a worker started again under its name keeps its
        // predecessor's lines (what it said before it was killed).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let mut command = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command
            .args(["worker", "--coord", &self.coord, "--store", &self.store])
            .args(["--slots", &self.slots.to_string(), "--name", name])
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} worker: {e}", self.binary.display()))
    }
}

/// Worker processes named `w0`, `w1`, …; killed (after a SIGCONT, in
/// case a test paused one) on drop.
pub struct Workers {
    spec: WorkerSpec,
    children: Vec<Child>,
}

impl Workers {
    /// Starts `count` workers from `spec` and waits until all have
    /// registered.
    ///
    /// # Panics
    /// When a worker cannot start or they do not all register in time.
    pub fn start(spec: WorkerSpec, count: usize) -> Workers {
        let children = (0..count).map(|i| spec.spawn(&name(i))).collect();
        let workers = Workers { spec, children };
        wait_for_status(
            workers.spec.coord(),
            REGISTER_DEADLINE,
            "workers to register",
            |s| (0..count).all(|i| s.workers.iter().any(|w| w.name == name(i))),
        );
        workers
    }

    /// How the workers were started.
    pub fn spec(&self) -> &WorkerSpec {
        &self.spec
    }

    /// The process id of worker `i`.
    pub fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    /// Sends `sig` (as `kill` takes it: `-STOP`, `-CONT`, `-KILL`, …) to
    /// worker `i`.
    pub fn signal(&self, i: usize, sig: &str) {
        signal(self.pid(i), sig);
    }

    /// Kills worker `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        let child = &mut self.children[i];
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The log of worker `i`, for failure messages.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.spec.log_path(&name(i))).unwrap_or_default()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            // A worker that is gone (killed and reaped by a test, or exited
            // on its own: `try_wait` reaps it) has no process left, and
            // `kill -CONT` would print "No such process" or reach whatever
            // process took its pid since.
            if matches!(child.try_wait(), Ok(Some(_))) {
                continue;
            }
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The name of worker `i`.
fn name(i: usize) -> String {
    format!("w{i}")
}

/// Sends `sig` (`-STOP`, `-CONT`, `-KILL`, …) to process `pid` with
/// `kill(1)`.
///
/// # Panics
/// When `kill` fails (no such process).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid} failed");
}
