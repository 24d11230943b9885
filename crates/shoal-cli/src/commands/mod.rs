//! The command table. One module per subcommand; each exposes an `Args`
//! struct (clap) and a `run` function returning [`CliError`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shoal_core::Registry;

use crate::logging::{Baseline, LogFormat};
use crate::CliError;

pub mod analyze;
pub mod counter;
pub mod demo;
pub mod gen;
pub mod jobs;
pub mod kv;
pub mod lock;
pub mod map;
pub mod run;
pub mod status;
pub mod ui;
pub mod wordcount;
pub mod worker;

/// Shoal: split big data work into many small tasks and run them in
/// parallel — on every core of this machine, or on a cluster.
#[derive(Debug, Parser)]
#[command(name = "shoal", version, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Object-store setting KEY=VALUE for s3://, gs://, az://, hdfs://
    /// URLs (repeatable; on top of the AWS_*/GOOGLE_*/AZURE_* variables),
    /// e.g. endpoint=http://127.0.0.1:9000, region=eu-west-1,
    /// max_concurrency=32, retry_timeout=15s.
    #[arg(
        long = "store-opt",
        value_name = "KEY=VALUE",
        global = true,
        env = "SHOAL_STORE_OPTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub store_opts: Vec<String>,
    /// Log verbosity (`-v`).
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// Every subcommand of `shoal`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn clickstream logs into a user-behaviour report.
    Analyze(analyze::AnalyzeArgs),
    /// Generate ~1M events, analyse them, keep report.json and report.html.
    Demo(demo::DemoArgs),
    /// Generate synthetic clickstream logs (deterministic, realistic).
    Gen(gen::GenArgs),
    /// List the jobs this program can run (embedded or as a worker).
    Jobs,
    /// Atomic counters (add, get) in the coordination store.
    Counter(counter::CounterArgs),
    /// Get, put or delete keys in the coordination key-value store.
    Kv(kv::KvArgs),
    /// Run a command while holding a distributed lock (like flock(1)).
    Lock(lock::LockArgs),
    /// Count words in text files and print the most frequent.
    Wordcount(wordcount::WordCountArgs),
    /// Run any program as map and reduce tasks (Hadoop Streaming's contract).
    Map(map::MapArgs),
    /// Run any job by name (see `jobs`) with JSON parameters.
    Run(run::RunJobArgs),
    /// Serve tasks for cluster jobs (see --coord on job commands).
    Worker(worker::WorkerArgs),
    /// Show a cluster's workers and jobs.
    Status(status::StatusArgs),
    /// Cancel a running cluster job.
    Cancel(status::CancelArgs),
    /// Serve a live web dashboard of a cluster (and Prometheus /metrics).
    Ui(ui::UiArgs),
}

/// Runs the parsed command with the jobs of `registry`.
pub fn dispatch(cli: Cli, registry: &Registry) -> Result<ExitCode, CliError> {
    let store_options = shoal_store::StoreOptions::parse(&cli.store_opts)
        .map_err(|e| CliError::usage(e.to_string()))?;
    shoal_store::configure(store_options);
    let (baseline, format) = match &cli.command {
        Command::Worker(args) => (Baseline::Service, args.log_format),
        _ => (Baseline::Command, LogFormat::Text),
    };
    crate::logging::install(cli.log.verbose, baseline, format)?;
    match cli.command {
        Command::Analyze(args) => analyze::run(args, registry),
        Command::Demo(args) => demo::run(args, registry),
        Command::Gen(args) => gen::run(args),
        Command::Jobs => jobs::run(registry),
        Command::Counter(args) => counter::run(args),
        Command::Kv(args) => kv::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Wordcount(args) => wordcount::run(args, registry),
        Command::Map(args) => map::run(args, registry),
        Command::Run(args) => run::run(args, registry),
        Command::Worker(args) => worker::run(args, registry),
        Command::Status(args) => status::run(args),
        Command::Cancel(args) => status::cancel(args),
        Command::Ui(args) => ui::run(args),
    }
}
