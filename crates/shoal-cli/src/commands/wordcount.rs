//! `shoal wordcount FILES... [--top N]`.

use std::process::ExitCode;

use clap::Args;
use shoal_core::{JobSpec, Registry};
use shoal_jobs::{WordCountParams, WordCountResult};

use crate::runner::RunArgs;
use crate::CliError;

/// Count words in text files and print the most frequent.
#[derive(Debug, Args)]
pub struct WordCountArgs {
    /// Text files or directories (every file inside, in sorted order).
    #[arg(required = true, value_name = "FILES")]
    pub inputs: Vec<String>,
    /// How many words to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Partitions of the count stage (default: 4 per thread).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub partitions: Option<u32>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the job and prints the table (or JSON).
pub fn run(args: WordCountArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let threads = args.run.embedded_config().threads as u32;
    let params = WordCountParams {
        inputs: args.inputs,
        top: args.top,
        partitions: args.partitions.unwrap_or(threads * 4),
        split_bytes: 32 << 20,
        splits: Vec::new(),
    };
    let params = serde_json::to_value(params).map_err(anyhow::Error::from)?;
    let output = args
        .run
        .run_job(registry, JobSpec::new("wordcount", params))?;
    let blob = output.results.first().cloned().unwrap_or_default();
    if args.json {
        println!("{}", String::from_utf8_lossy(&blob));
        return Ok(ExitCode::SUCCESS);
    }
    let result: WordCountResult =
        serde_json::from_slice(&blob).map_err(|e| anyhow::anyhow!("bad job result: {e}"))?;
    println!("{} words, {} distinct", result.words, result.distinct);
    for (word, count) in &result.top {
        println!("{count:>12}  {word}");
    }
    Ok(ExitCode::SUCCESS)
}
