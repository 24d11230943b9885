//! `shoal analyze INPUT... [flags]`: the user-behaviour report (issue 3).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use shoal_analytics::job::{AnalyzeOutput, AnalyzeParams, JOB_NAME};
use shoal_analytics::{html, summary, AnalyzeConfig};
use shoal_core::{JobSpec, Registry};
use shoal_events::{ColumnMap, Format, ReadOptions, TsUnit};

use crate::output::write_file;
use crate::runner::RunArgs;
use crate::{program_name, CliError};

/// Turn clickstream logs into a user-behaviour report.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Input files, directories (every file inside), globs or file:// URLs.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Input format: auto (by extension), csv, jsonl or parquet.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub format: Format,
    /// Column names, e.g. `user_id=visitorid,ts=timestamp,item=itemid`.
    #[arg(long, value_name = "MAP")]
    pub columns: Option<ColumnMap>,
    /// Unit of integer timestamps: s, ms, us or ns.
    #[arg(long, default_value = "ms", value_name = "UNIT")]
    pub ts_unit: TsUnit,
    /// Stop at the first bad row (exit code 2) instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// How the report is defined (sessions, funnel, retention, top items).
    #[command(flatten)]
    pub report: ReportArgs,
    /// Write the report JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the report JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write a self-contained HTML page with charts to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// User partitions (default: from the input size).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub partitions: Option<u32>,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

/// The report definitions' knobs, shared with `shoal demo`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A gap strictly longer than this starts a new session.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = parse_ms)]
    pub session_gap: u64,
    /// Funnel steps (event types), in order.
    #[arg(long, default_value = "view,cart,purchase", value_name = "STEPS")]
    pub funnel: String,
    /// The funnel's last step must be at most this long after its first.
    #[arg(long, default_value = "24h", value_name = "DURATION", value_parser = parse_ms)]
    pub funnel_window: u64,
    /// Retention columns after the cohort day.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub retention_days: u32,
    /// How many top items to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: u32,
}

impl ReportArgs {
    /// The report configuration these flags describe.
    pub fn config(&self) -> Result<AnalyzeConfig, CliError> {
        let config = AnalyzeConfig {
            session_gap_ms: self.session_gap,
            funnel_steps: self
                .funnel
                .split(',')
                .map(|s| s.trim().to_string())
                .collect(),
            funnel_window_ms: self.funnel_window,
            retention_days: self.retention_days,
            top: self.top,
        };
        config
            .validate()
            .map_err(|e| CliError::usage(e.to_string()))?;
        Ok(config)
    }
}

/// `30m`, `24h`, `1500ms` → milliseconds.
fn parse_ms(text: &str) -> Result<u64, String> {
    let d: Duration = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}; examples: 30m, 24h, 1500ms)"))?;
    u64::try_from(d.as_millis()).map_err(|_| format!("'{text}' is too long"))
}

/// Runs the job and writes/prints what the flags ask for.
pub fn run(args: AnalyzeArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let config = args.report.config()?;
    let read = ReadOptions {
        format: args.format,
        columns: args.columns.clone().unwrap_or_default(),
        ts_unit: args.ts_unit,
        strict: args.strict,
    };
    let output = analyze(
        &args.run,
        registry,
        args.inputs.clone(),
        read,
        config,
        args.partitions,
    )?;
    let json = output.report.to_json();
    if let Some(path) = &args.out {
        write_file(path, json.as_bytes())?;
    }
    if let Some(path) = &args.html {
        let settings = format!("shoal analyze {}", args.inputs.join(" "));
        write_file(path, html::render(&output.report, &settings).as_bytes())?;
    }
    if args.json {
        print!("{json}");
    } else {
        print!("{}", summary::render(&output.report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the analyze job and prints the first rejected rows to stderr.
pub fn analyze(
    run: &RunArgs,
    registry: &Registry,
    inputs: Vec<String>,
    read: ReadOptions,
    config: AnalyzeConfig,
    partitions: Option<u32>,
) -> Result<AnalyzeOutput, CliError> {
    let threads = run.embedded_config().threads as u32;
    let params = AnalyzeParams {
        inputs,
        read,
        config,
        splits: Vec::new(),
        partitions,
        min_partitions: Some(threads.saturating_mul(2)),
        ..AnalyzeParams::default()
    };
    let params = serde_json::to_value(params).context("encoding analyze parameters")?;
    let output = run.run_job(registry, JobSpec::new(JOB_NAME, params))?;
    let blob = output.results.first().cloned().unwrap_or_default();
    let output = AnalyzeOutput::from_bytes(&blob).context("decoding the analyze result")?;
    if output.report.rejected > 0 {
        for r in &output.rejects {
            eprintln!("{}: rejected {}: {}", program_name(), r.location, r.reason);
        }
        eprintln!(
            "{}: {} bad rows skipped (--strict stops at the first)",
            program_name(),
            output.report.rejected
        );
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn durations_parse_to_milliseconds() {
        assert_eq!(parse_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_ms("24h"), Ok(86_400_000));
        assert_eq!(parse_ms("1500ms"), Ok(1500));
        assert!(parse_ms("soon").is_err());
    }
}
