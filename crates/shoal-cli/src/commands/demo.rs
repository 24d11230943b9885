//! `shoal demo`: generate a realistic clickstream, analyse it with progress
//! bars, print the summary and where the JSON and HTML reports were kept.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use shoal_analytics::{html, summary};
use shoal_core::Registry;
use shoal_events::{generate, GenFormat, GenOptions, ReadOptions};

use super::analyze::{analyze, ReportArgs};
use crate::output::write_file;
use crate::runner::RunArgs;
use crate::CliError;

/// Generate ~1M events, analyse them and keep report.json and report.html.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub events: u64,
    /// Directory for the data and reports (default: a new directory under
    /// the system temp directory, kept after exit).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How the report is defined (sessions, funnel, retention, top items).
    #[command(flatten)]
    pub report: ReportArgs,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Generates, analyses, writes both reports and prints the summary.
pub fn run(args: DemoArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let config = args.report.config()?;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => fresh_temp_dir(),
    };
    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let mut opts = GenOptions::with_events(args.events);
    opts.format = GenFormat::Csv;
    if !args.run.quiet {
        eprintln!(
            "Generating {} events into {} ...",
            args.events,
            data.display()
        );
    }
    let generated = generate(&data, &opts).context("generating the demo data")?;
    if !args.run.quiet {
        eprintln!(
            "Generated {} files, {:.1} MB in {:.2} s; analysing ...",
            generated.files.len(),
            generated.bytes as f64 / 1e6,
            generated.seconds
        );
    }
    let inputs = vec![data.to_string_lossy().into_owned()];
    let output = analyze(
        &args.run,
        registry,
        inputs,
        ReadOptions::default(),
        config,
        None,
    )?;
    let json_path = dir.join("report.json");
    let html_path = dir.join("report.html");
    write_file(&json_path, output.report.to_json().as_bytes())?;
    let settings = format!(
        "shoal demo: {} generated events in {}",
        args.events,
        data.display()
    );
    write_file(
        &html_path,
        html::render(&output.report, &settings).as_bytes(),
    )?;
    print!("{}", summary::render(&output.report));
    println!("\nReport JSON: {}", json_path.display());
    println!(
        "Report HTML: {}  (open it in a browser)",
        html_path.display()
    );
    println!(
        "Data kept in {} — delete the directory when done.",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A new, uniquely named directory under the temp dir (not deleted on exit:
/// the reports are the point of the demo).
fn fresh_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("shoal-demo-{}-{nanos:08x}", std::process::id()))
}
