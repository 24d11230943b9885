//! `shoal ui`: the live web dashboard of a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use shoal_ui::{bind, Access, ClusterSource, UiServer};

use crate::dashboard::ui_error;
use crate::signals::stop_on_signals;
use crate::{program_name, CliError};

/// Serve a live dashboard of the cluster: workers, jobs, task timelines,
/// failures, and Prometheus `/metrics`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// The `redis://` control plane.
    #[arg(long, value_name = "URL", env = "SHOAL_COORD", hide_env_values = true)]
    pub coord: String,
    /// Address to listen on. Anything but loopback needs --token-file.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// File whose first line is the token every request must carry
    /// (`Authorization: Bearer TOKEN`, or visit `/?token=TOKEN` once); it
    /// also authorises cancelling. Without it, viewing on loopback is open
    /// and cancelling uses a random token made at start.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Jobs started this long ago or less are listed (a finished job's
    /// record stays as long as its run's --history said, 24h by default).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub history: Duration,
    /// Another name this server is reached by (a reverse proxy's, a DNS
    /// name); requests naming other hosts are refused. Repeatable.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
}

/// Serves until SIGTERM or Ctrl-C.
pub fn run(args: UiArgs) -> Result<ExitCode, CliError> {
    let access =
        Access::new(args.bind, args.token_file.as_deref(), args.allow_hosts).map_err(ui_error)?;
    let source = ClusterSource::open(&args.coord, args.history).map_err(ui_error)?;
    let label = source.label().to_string();
    let server = UiServer::start(
        bind(args.bind).map_err(ui_error)?,
        access,
        Arc::new(source),
        &label,
    )
    .map_err(ui_error)?;
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(&stop)?;
    eprintln!(
        "{}: dashboard of {label} at {}",
        program_name(),
        server.url()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop().map_err(ui_error)?;
    Ok(ExitCode::SUCCESS)
}
