//! Running one program as (part of) a task attempt.
//!
//! ```text
//!            ┌── feeder thread ──▶ stdin  ─┐
//!  run() ────┼── drainer thread ◀─ stdout ─┼── sh -c CMD (own process group)
//!  watches   └── stderr thread  ◀─ stderr ─┘
//!  exit, deadline, cancel, failures of the other threads
//! ```
//!
//! stdin is fed and stdout drained at the same time, so a program that
//! writes a lot before it has read everything never deadlocks against
//! us. The calling thread watches: the program's exit (without reaping
//! it, see [`group`]), the attempt's deadline, cancellation and the
//! feeder's and drainer's own failures. Whatever ends the run, the whole
//! process group is killed before the leader is reaped, and processes
//! that escaped the group are found by their task token.

mod group;
mod pipe;
mod stderr;

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shoal_core::{TaskError, TaskErrorKind};

pub use group::{kill_by_token, TOKEN_VAR};
pub use pipe::{PipeReader, PipeWriter};
pub use stderr::{StderrReport, LOG_BYTES, TAIL_LINES};

/// How often the watcher looks at the deadline and the cancel flag.
const WATCH: Duration = Duration::from_millis(50);
/// How long pipes may stay open after the program's group is gone before
/// the runner stops waiting for them.
const GRACE: Duration = Duration::from_secs(2);

/// A program to run: `sh -c COMMAND` in `dir` with `env` added.
#[derive(Debug, Clone)]
pub struct Program<'a> {
    /// What the program is to the task, for messages: `mapper`,
    /// `combiner`, `reducer`.
    pub role: &'a str,
    /// The shell command line.
    pub command: &'a str,
    /// Working directory.
    pub dir: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a [(String, String)],
}

/// When to stop a program that has not finished.
pub struct Limits<'a> {
    /// Kill it at this instant (the attempt's `--task-timeout`).
    pub deadline: Option<Instant>,
    /// The timeout the deadline came from, for messages.
    pub timeout: Option<Duration>,
    /// Kill it as soon as this says so (job cancelled, worker stopping).
    pub cancelled: &'a dyn Fn() -> bool,
}

/// A program that exited with status 0.
#[derive(Debug)]
pub struct Ran<R> {
    /// What the drainer made of its stdout.
    pub output: R,
    /// Its counters, status and log.
    pub stderr: StderrReport,
    /// Bytes it took from stdin.
    pub input_bytes: u64,
    /// Whether it closed stdin before taking all its input.
    pub stopped_reading: bool,
}

/// Why a program did not end well.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// `sh` could not be started.
    #[error("could not start {role} `{command}` in {dir}: {source}")]
    Spawn {
        /// mapper, combiner or reducer.
        role: String,
        /// The command line.
        command: String,
        /// The working directory.
        dir: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited with a non-zero status or was killed by a signal.
    #[error("{role} `{command}` {how}; {}", .stderr.tail_text())]
    Failed {
        /// mapper, combiner or reducer.
        role: String,
        /// The command line.
        command: String,
        /// `exited with status 3`, `was killed by signal 9 (SIGKILL)`.
        how: String,
        /// What it said on stderr.
        stderr: Box<StderrReport>,
    },
    /// It ran past the attempt's deadline and was killed.
    #[error("{role} `{command}` ran past the task timeout ({}) and was killed; {}", humanize(*.timeout), .stderr.tail_text())]
    TimedOut {
        /// mapper, combiner or reducer.
        role: String,
        /// The command line.
        command: String,
        /// The timeout.
        timeout: Duration,
        /// What it said on stderr.
        stderr: Box<StderrReport>,
    },
    /// The task was cancelled; the program was killed.
    #[error("{role} `{command}` was killed: the task was cancelled")]
    Cancelled {
        /// mapper, combiner or reducer.
        role: String,
        /// The command line.
        command: String,
    },
    /// Feeding its stdin or handling its stdout failed on our side.
    #[error("{role} `{command}`: {what}: {}", .source.chain())]
    Io {
        /// mapper, combiner or reducer.
        role: String,
        /// The command line.
        command: String,
        /// `feeding its stdin`, `reading its stdout`.
        what: &'static str,
        /// The failure.
        source: TaskError,
    },
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

impl From<ProgramError> for TaskError {
    fn from(err: ProgramError) -> Self {
        let kind = match &err {
            ProgramError::Io { source, .. } => source.kind(),
            _ => TaskErrorKind::Retryable,
        };
        TaskError::new(err.to_string()).with_kind_of(kind)
    }
}

/// A token unique to one attempt on this machine while this process
/// lives: `PID-N`.
fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why the watcher stopped the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancelled,
    TimedOut,
    /// The feeder or drainer failed; their error is the result.
    Ours,
}

/// What the three pipe threads handed back.
struct Pipes<R> {
    fed: Result<(u64, bool), TaskError>,
    drained: Result<R, TaskError>,
    stderr: StderrReport,
}

/// Runs `program`, feeding its stdin with `feed` and handing its stdout
/// to `drain`, both on threads of their own, until it exits or `limits`
/// stop it. Returns the drainer's output when the program exits with
/// status 0 and neither side failed.
///
/// A program that closes stdin early is not an error by itself: `feed`
/// sees `BrokenPipe` and its error is ignored.
pub fn run<R: Send>(
    program: &Program<'_>,
    limits: &Limits<'_>,
    feed: impl FnOnce(&mut PipeWriter<'_>) -> Result<(), TaskError> + Send,
    drain: impl FnOnce(&mut PipeReader<'_>) -> Result<R, TaskError> + Send,
) -> Result<Ran<R>, ProgramError> {
    let role = program.role.to_string();
    let command = program.command.to_string();
    let token = new_token();
    let mut child = {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(program.command)
            .current_dir(program.dir)
            .envs(program.env.iter().map(|(k, v)| (k, v)))
            .env(TOKEN_VAR, &token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        group::configure(&mut cmd);
        cmd.spawn().map_err(|source| ProgramError::Spawn {
            role: role.clone(),
            command: command.clone(),
            dir: program.dir.display().to_string(),
            source,
        })?
    };
    let pid = child.id();
    let stdin = child.stdin.take().map(Into::into);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");

    let abandon = AtomicBool::new(false);
    let ours_failed = AtomicBool::new(false);
    let (stop, pipes) = std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (feed_done, drain_done, err_done) = (done_tx.clone(), done_tx.clone(), done_tx);
        let (abandon, ours_failed) = (&abandon, &ours_failed);
        let feeder = scope.spawn(move || {
            let mut writer = PipeWriter::new(stdin, abandon);
            let fed = match feed(&mut writer) {
                Err(_) if writer.closed_by_reader() => Ok(true),
                Err(err) => Err(err),
                Ok(()) => Ok(false),
            };
            let taken = writer.written();
            drop(writer);
            if fed.is_err() {
                ours_failed.store(true, Ordering::Relaxed);
            }
            let _ = feed_done.send(());
            fed.map(|early| (taken, early))
        });
        let drainer = scope.spawn(move || {
            let drained = drain(&mut PipeReader::new(stdout, abandon));
            if drained.is_err() {
                ours_failed.store(true, Ordering::Relaxed);
            }
            let _ = drain_done.send(());
            drained
        });
        let errors = scope.spawn(move || {
            let mut report = StderrReport::default();
            report.read_from(PipeReader::new(stderr, abandon));
            let _ = err_done.send(());
            report
        });
        let stop = watch(pid, limits, ours_failed);
        // The leader is gone (or was killed): take its whole group with it.
        group::kill_group(pid);
        let grace = Instant::now() + GRACE;
        for _ in 0..3 {
            let left = grace.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                abandon.store(true, Ordering::Relaxed);
                break;
            }
        }
        let panicked = |what: &str| TaskError::fatal(format!("the {what} thread panicked"));
        let pipes = Pipes {
            fed: feeder.join().unwrap_or_else(|_| Err(panicked("stdin"))),
            drained: drainer.join().unwrap_or_else(|_| Err(panicked("stdout"))),
            stderr: errors.join().unwrap_or_default(),
        };
        (stop, pipes)
    });
    let status = child.wait();
    kill_by_token(&token);
    outcome(role, command, limits, stop, pipes, status)
}

/// Waits for the leader to exit, killing its group when the deadline
/// passes, the task is cancelled or our side of the pipes failed.
fn watch(pid: u32, limits: &Limits<'_>, ours_failed: &AtomicBool) -> Option<Stop> {
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    // Detached on purpose: it returns as soon as the leader exits, which
    // the kill below guarantees.
    std::thread::spawn(move || {
        let _ = group::wait_exited(pid);
        let _ = exit_tx.send(());
    });
    let mut stop = None;
    loop {
        match exit_rx.recv_timeout(WATCH) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return stop,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if stop.is_some() {
            continue;
        }
        stop = if (limits.cancelled)() {
            Some(Stop::Cancelled)
        } else if limits.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Stop::TimedOut)
        } else if ours_failed.load(Ordering::Relaxed) {
            Some(Stop::Ours)
        } else {
            None
        };
        if stop.is_some() {
            group::kill_group(pid);
        }
    }
}

fn outcome<R>(
    role: String,
    command: String,
    limits: &Limits<'_>,
    stop: Option<Stop>,
    pipes: Pipes<R>,
    status: std::io::Result<ExitStatus>,
) -> Result<Ran<R>, ProgramError> {
    let stderr = Box::new(pipes.stderr);
    match stop {
        Some(Stop::Cancelled) => return Err(ProgramError::Cancelled { role, command }),
        Some(Stop::TimedOut) => {
            return Err(ProgramError::TimedOut {
                role,
                command,
                timeout: limits.timeout.unwrap_or_default(),
                stderr,
            })
        }
        Some(Stop::Ours) | None => {}
    }
    let (input_bytes, stopped_reading) = match pipes.fed {
        Ok(fed) => fed,
        Err(source) => {
            return Err(ProgramError::Io {
                role,
                command,
                what: "feeding its stdin",
                source,
            })
        }
    };
    let output = match pipes.drained {
        Ok(output) => output,
        Err(source) => {
            return Err(ProgramError::Io {
                role,
                command,
                what: "reading its stdout",
                source,
            })
        }
    };
    let how = match status {
        Ok(status) if status.success() => None,
        Ok(status) => Some(describe(status)),
        Err(err) => Some(format!("could not be waited for ({err})")),
    };
    if let Some(how) = how {
        return Err(ProgramError::Failed {
            role,
            command,
            how,
            stderr,
        });
    }
    Ok(Ran {
        output,
        stderr: *stderr,
        input_bytes,
        stopped_reading,
    })
}

/// `exited with status 3` or `was killed by signal 9 (SIGKILL)`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(signal) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        None => format!("ended with {status}"),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => "another signal",
    }
}
