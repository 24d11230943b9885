//! `shoal lock NAME [--ttl 30s] [--wait 10s] -- CMD ARGS...`: runs a command
//! while holding a coordination lock, like flock(1) across machines. Also
//! home of the `--coord` option and error mapping shared by `kv` and
//! `counter`.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use shoal_coord::{CoordError, CoordUrl, Coordinator, LockOptions};

use crate::{program_name, CliError};

/// Where coordination state lives (shared by lock, kv and counter).
#[derive(Debug, Args)]
pub struct CoordOpt {
    /// Coordination backend: redis://[user:password@]host:port[/db],
    /// rediss://... (TLS), or embedded:// — which lives only inside this
    /// one command, so lock/kv/counter are useful with a shared Redis.
    #[arg(
        long = "coord",
        env = "SHOAL_COORD",
        default_value = "embedded://",
        value_name = "URL",
        hide_env_values = true,
        global = true
    )]
    pub coord: String,
}

impl CoordOpt {
    /// Runs `work` against the coordinator on a small Tokio runtime.
    pub fn run<T>(
        &self,
        work: impl AsyncFnOnce(Coordinator) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let url = CoordUrl::parse(&self.coord).map_err(coord_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Failed(anyhow::Error::new(e).context("starting the runtime")))?;
        runtime.block_on(async move {
            let coord = Coordinator::open_with(&url, Default::default())
                .await
                .map_err(coord_error)?;
            work(coord).await
        })
    }
}

/// Input mistakes exit 2 in one line; everything else is a failure (1).
pub fn coord_error(err: CoordError) -> CliError {
    match err {
        CoordError::InvalidName { .. }
        | CoordError::InvalidDuration { .. }
        | CoordError::InvalidOption { .. }
        | CoordError::InvalidUrl { .. }
        | CoordError::TlsUnsupported { .. } => CliError::usage(err.to_string()),
        other => CliError::Failed(anyhow::Error::new(other)),
    }
}

/// Run a command while holding a lock; its fencing token is in
/// $SHOAL_FENCING_TOKEN. Exits with the command's exit code.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Lock name.
    pub name: String,
    /// Lease length; renewed every third of it while the command runs, so
    /// it bounds how long a crashed holder blocks others.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// How long to wait for a busy lock before giving up (exit 1).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Where the coordination state lives.
    #[command(flatten)]
    pub coord: CoordOpt,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Takes the lock, runs the command, releases. If the lease is lost while
/// the command runs, the command is killed (it must stop writing) and the
/// exit code is 1.
pub fn run(args: LockArgs) -> Result<ExitCode, CliError> {
    let options = LockOptions::default().ttl(args.ttl).wait(args.wait);
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage("missing command after --"))?;
    args.coord.run(async |coord| {
        let guard = coord
            .lock(&args.name, &options)
            .await
            .map_err(coord_error)?;
        let mut child = tokio::process::Command::new(program)
            .args(rest)
            .env("SHOAL_FENCING_TOKEN", guard.token().to_string())
            .env("SHOAL_LOCK_NAME", &args.name)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CliError::usage(format!("cannot run {program:?}: {e}")))?;
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
                if let Err(err) = guard.release().await {
                    eprintln!("{}: warning: {err}", program_name());
                }
                Ok(exit_code(status))
            }
            reason = guard.lost() => {
                eprintln!(
                    "{}: lock {:?} was lost while the command ran ({reason}); killing it",
                    program_name(),
                    args.name
                );
                let _ = child.start_kill();
                let _ = child.wait().await;
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// The command's own code, or 128 + signal like a shell.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(signal)) => ExitCode::from((128 + signal).clamp(0, 255) as u8),
        (None, None) => ExitCode::from(1),
    }
}
