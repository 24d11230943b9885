//! `shoal map INPUT... --mapper CMD [--reducer CMD] --out URL`: any program
//! as map and reduce tasks (Hadoop Streaming's contract). The work is
//! `shoal_stream`'s; this module turns flags into its parameters, ships
//! files to the cluster's store, stops the job on Ctrl-C and prints the
//! counters.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use shoal_core::{JobSpec, Registry};
use shoal_stream::ship::{self, ShippedFile};
use shoal_stream::{KeySpec, MapOutcome, MapParams, StreamJob, JOB_NAME};

use crate::runner::RunArgs;
use crate::size::parse_size;
use crate::{program_name, CliError};

/// Run any program as map and reduce tasks: the mapper reads lines of the
/// input on stdin and writes `key<TAB>value` lines; records are sorted by
/// key and partitioned between reducers, which get their partition's
/// lines in key order (Hadoop Streaming's contract).
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Input files, directories, globs or store URLs (text; .gz/.zst are
    /// decompressed).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The mapper, a shell command run in each map task.
    #[arg(long, value_name = "CMD", required = true)]
    pub mapper: String,
    /// The reducer, a shell command run in each reduce task (none: the
    /// mappers' output is the output).
    #[arg(long, value_name = "CMD")]
    pub reducer: Option<String>,
    /// A combiner run on each map task's sorted output, with the reducer's
    /// contract.
    #[arg(long, value_name = "CMD")]
    pub combiner: Option<String>,
    /// Reduce partitions (default: threads, or the cluster's slots); 0
    /// makes the job map-only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub reducers: Option<u32>,
    /// Where part-NNNNN files and _SUCCESS go: a directory or store URL.
    #[arg(long, value_name = "URL", required = true)]
    pub out: String,
    /// Replace what --out holds instead of refusing to run.
    #[arg(long)]
    pub overwrite: bool,
    /// A file every task finds in its working directory (repeatable;
    /// executable bits kept).
    #[arg(long, value_name = "FILE")]
    pub ship: Vec<String>,
    /// An environment variable for the programs (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Kill and fail a task attempt that runs longer.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub task_timeout: Option<Duration>,
    /// What ends a key in the programs' output lines (default: tab; `\t`
    /// is understood).
    #[arg(long, value_name = "SEP")]
    pub separator: Option<String>,
    /// How many separator-delimited fields make the key.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub key_fields: u32,
    /// Run the mapper once per input file, `{}` replaced by the file's
    /// local path, instead of streaming lines to it.
    #[arg(long)]
    pub per_file: bool,
    /// Input bytes per map task.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_size)]
    pub split_size: u64,
    /// Print the outcome (out, parts, counters) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

/// `\t`, `\\` and `\n` written out in a flag, as their characters.
fn unescape(text: &str) -> String {
    text.replace("\\t", "\t")
        .replace("\\n", "\n")
        .replace("\\\\", "\\")
}

/// The registry with the `map` job in it: it is in a worker's registry
/// only when started with `--allow-exec`, but a driver always knows it.
pub fn with_stream_job(registry: &Registry) -> Registry {
    match registry.get(JOB_NAME) {
        Ok(_) => registry.clone(),
        Err(_) => registry.clone().with(Arc::new(StreamJob)),
    }
}

/// Runs the job; prints the counters on stderr (or the outcome as JSON
/// on stdout with `--json`).
pub fn run(args: MapArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let registry = with_stream_job(registry);
    let ship = ShippedFile::all_local(&args.ship).map_err(|e| CliError::usage(e.to_string()))?;
    let mut params = MapParams {
        reducer: args.reducer.clone(),
        combiner: args.combiner.clone(),
        reducers: args.reducers.unwrap_or(0),
        overwrite: args.overwrite,
        ship,
        env: args.env.clone(),
        task_timeout: args.task_timeout,
        keys: KeySpec {
            separator: args.separator.as_deref().map_or("\t".to_string(), unescape),
            key_fields: args.key_fields,
        },
        per_file: args.per_file,
        split_bytes: args.split_size.max(1),
        ..MapParams::new(args.inputs.clone(), &args.mapper, &args.out)
    };
    let cluster = args.run.cluster_config()?;
    // Fail at once, not after a wait for workers, when nobody may run it.
    let slots = match &cluster {
        Some(config) => exec_slots(&config.coord_url)?,
        None => args.run.embedded_config().threads as u32,
    };
    if args.reducers.is_none() && params.reducer.is_some() {
        params.reducers = slots.max(1);
    }
    // Shipped files live under the job's prefix, so they go with its
    // other objects: the run's id is taken before they are uploaded.
    let id = shoal_core::new_job_id(JOB_NAME);
    let uploaded = match (&cluster, params.ship.is_empty()) {
        (Some(config), false) => Some(
            ship::upload(
                &mut params.ship,
                &config.store_url,
                &shoal_cluster::job_prefix(&id),
            )
            .map_err(|e| CliError::Failed(anyhow::anyhow!(e)))?,
        ),
        _ => None,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    cancel_on_signals(&cancel)?;
    let spec = JobSpec::new(
        JOB_NAME,
        serde_json::to_value(&params).map_err(anyhow::Error::from)?,
    );
    let result = args
        .run
        .run_job_with_cancel(&registry, spec, cancel, Some(id));
    if let Some(uploaded) = uploaded {
        uploaded.remove();
    }
    shoal_stream::remove_process_root(&args.run.embedded_config().work_dir);
    let output = result?;
    let outcome: MapOutcome = serde_json::from_slice(&output.result)
        .map_err(|e| anyhow::anyhow!("bad job result: {e}"))?;
    if args.json {
        println!("{}", String::from_utf8_lossy(&output.result));
    } else if !args.run.quiet {
        eprintln!(
            "{}: {} part files in {}; counters:",
            program_name(),
            outcome.parts,
            outcome.out
        );
        eprint!("{}", outcome.counters);
    }
    Ok(ExitCode::SUCCESS)
}

/// The task slots of the live workers that run `map` (started with
/// `--allow-exec`); none is an error saying so.
fn exec_slots(coord: &str) -> Result<u32, CliError> {
    let status = shoal_cluster::cluster_status(coord, 0)
        .map_err(|e| CliError::Failed(anyhow::anyhow!(e)))?;
    let offer = shoal_core::fingerprint(&StreamJob);
    let slots: u64 = status
        .workers
        .iter()
        .filter(|w| w.jobs.contains(&offer))
        .map(|w| w.slots)
        .sum();
    if slots == 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "no live worker allows exec: `map` runs programs, so only workers started with \
             `{} worker --allow-exec` run it ({} live worker(s) without it)",
            program_name(),
            status.workers.len()
        )));
    }
    Ok(slots.min(u64::from(u32::MAX)) as u32)
}

/// The first SIGINT/SIGTERM cancels the job (its programs are killed); a
/// second one ends the process at once.
fn cancel_on_signals(cancel: &Arc<AtomicBool>) -> Result<(), CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, 130, cancel.clone())
                .and_then(|_| signal_hook::flag::register(signal, cancel.clone()));
        installed.map_err(|e| {
            CliError::Failed(anyhow::Error::new(e).context("installing the signal handler"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_env_flags_parse() {
        assert_eq!(unescape("\\t"), "\t");
        assert_eq!(unescape("::"), "::");
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
