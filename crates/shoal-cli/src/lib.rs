//! Shoal's command line as a library: every `shoal` subcommand, for any
//! binary that brings its own jobs.
//!
//! A Shoal cluster runs one binary on every node, and a node can only run
//! jobs compiled into it. So a user's jobs need a binary of their own —
//! and that binary should be Shoal's binary plus their jobs: `worker`,
//! `run`, `status`, `cancel`, `jobs`, `lock`, `kv`, `counter` and the
//! built-in jobs, with the same flags, progress, signals and exit codes.
//! [`main`] is that binary; the `shoal` executable is
//! `shoal_cli::main(shoal_cli::builtin_registry())` and nothing else.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use std::sync::Arc;
//! # struct MyJob;
//! # impl shoal_core::Job for MyJob {
//! #     fn name(&self) -> &'static str { "my-job" }
//! #     fn describe(&self) -> &'static str { "" }
//! #     fn plan(&self, _: &serde_json::Value) -> Result<shoal_core::Plan, shoal_core::JobError> {
//! #         Ok(shoal_core::Plan::new())
//! #     }
//! # }
//!
//! fn main() -> ExitCode {
//!     let registry = shoal_cli::builtin_registry().with(Arc::new(MyJob));
//!     shoal_cli::main(registry)
//! }
//! ```
//!
//! The pieces are public for binaries that want more than [`main`]:
//! [`commands`] (the flag definitions and [`commands::dispatch`]),
//! [`RunArgs`] (the runtime flags every job command takes and running a job
//! with them), [`CliProgress`] (progress bars and lines), [`summary`] (run
//! statistics on stderr and in `--stats FILE`), [`logging`] (the one
//! `tracing` subscriber: `-v`, `RUST_LOG`, `--log-format`), [`output`] (where a result
//! may go), [`signals`],
//! [`commands::worker::default_worker_name`], and [`CliError`] with
//! [`error::report`], which alone turns a failure into an exit code
//! ([`error::exit`]).
#![deny(missing_docs)]

pub mod commands;
pub mod dashboard;
pub mod error;
mod jobs;
pub mod logging;
pub mod output;
pub mod progress;
pub mod runner;
pub mod signals;
pub mod size;
pub mod summary;
mod table;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{CommandFactory, FromArgMatches};
use shoal_core::Registry;

/// The allocator of every binary built on this crate (feature `mimalloc`,
/// on by default): a worker allocates for each task it claims, runs and
/// reports, and glibc's malloc and free were about a third of its CPU on
/// tiny tasks.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use error::CliError;
pub use jobs::builtin_registry;
pub use progress::CliProgress;
pub use runner::RunArgs;

/// Runs the command line of this process (`std::env::args_os`) with the
/// jobs of `registry` and returns the exit code: 0 on success, 2 for user
/// mistakes (one line naming the flag, file, line or key at fault), 1 for
/// failures of the work itself.
pub fn main(registry: Registry) -> ExitCode {
    main_from(std::env::args_os(), registry)
}

/// [`main`] with explicit arguments; the first is the program's path, and
/// its file name is the name messages and help show (`custom-job: error:
/// …`).
pub fn main_from<I, T>(args: I, registry: Registry) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(name) = args.first().and_then(|a| Path::new(a).file_stem()) {
        let _ = PROGRAM.set(name.to_string_lossy().into_owned());
    }
    let program = program_name();
    let parsed = commands::Cli::command()
        .name(program)
        .bin_name(program)
        .try_get_matches_from(args)
        .and_then(|matches| commands::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => return error::exit_for_clap(err),
    };
    match commands::dispatch(cli, &registry) {
        Ok(code) => code,
        Err(err) => error::report(err),
    }
}

static PROGRAM: OnceLock<String> = OnceLock::new();

/// The name this program shows in messages and help: the file name it was
/// started as (`shoal`, `custom-job`, …), `shoal` until [`main`] runs.
pub fn program_name() -> &'static str {
    PROGRAM.get().map_or("shoal", String::as_str)
}
