//! Operators' logs: the one `tracing` subscriber of the process.
//!
//! Library crates only emit events (`tracing::warn!` and friends); this
//! binary decides where they go: stderr, as plain text lines or — for log
//! shippers — one JSON object per line (`shoal worker --log-format json`).
//! Results never pass through here (stdout carries only results), and the
//! run summary and progress lines keep their own, unchanged, format.
//!
//! What is shown: `RUST_LOG` when set (the usual `EnvFilter` syntax);
//! otherwise warnings and errors, plus Shoal's own info lines for
//! `shoal worker` (a service whose log is its only output), one level more
//! of Shoal's lines per `-v`, and everything from every crate at `-vvv`.
//! Other crates stay at warnings below `-vvv`: their debug lines (HTTP,
//! TLS, Redis) would drown Shoal's.

use clap::{Args, ValueEnum};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::CliError;

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `TIME LEVEL spans: target: message`, one event a line.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, the event's
    /// fields (`message`, …) and `spans` (the worker, and the job, stage,
    /// partition and attempt a task's lines concern).
    Json,
}

/// The logging flag every command takes.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// More log lines on stderr: -v, -vv, -vvv (RUST_LOG, when set,
    /// decides instead).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Which lines a process shows before any `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Commands a user runs and watches: warnings and errors only, so their
    /// stderr stays the progress and the summary.
    Command,
    /// Long-running services (`shoal worker`): also what they do (start,
    /// metrics address, stop).
    Service,
}

/// Installs the process's subscriber. A second call (a binary that
/// installed its own, or tests calling [`crate::main_from`] twice) leaves
/// the first in place.
///
/// # Errors
/// A `RUST_LOG` that does not parse is the user's to fix (exit 2).
pub fn install(verbose: u8, baseline: Baseline, format: LogFormat) -> Result<(), CliError> {
    let filter = filter(verbose, baseline, std::env::var("RUST_LOG").ok())?;
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _already_installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
    Ok(())
}

/// `RUST_LOG` when set and not empty, else the levels of `-v` above the
/// baseline.
fn filter(
    verbose: u8,
    baseline: Baseline,
    rust_log: Option<String>,
) -> Result<EnvFilter, CliError> {
    if let Some(directives) = rust_log.filter(|d| !d.trim().is_empty()) {
        return EnvFilter::builder()
            .parse(&directives)
            .map_err(|err| CliError::usage(format!("RUST_LOG={directives:?}: {err}")));
    }
    let levels = [
        LevelFilter::WARN,
        LevelFilter::INFO,
        LevelFilter::DEBUG,
        LevelFilter::TRACE,
    ];
    let start = match baseline {
        Baseline::Command => 0,
        Baseline::Service => 1,
    };
    let ours = levels[(start + verbose as usize).min(levels.len() - 1)];
    let everyone = if verbose >= 3 {
        LevelFilter::TRACE
    } else {
        LevelFilter::WARN
    };
    // Every Shoal crate's target starts with `shoal` (`shoal_cluster::…`).
    EnvFilter::builder()
        .parse(format!("{everyone},shoal={ours}"))
        .map_err(|err| CliError::usage(format!("log levels: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(verbose: u8, baseline: Baseline, rust_log: Option<&str>) -> String {
        filter(verbose, baseline, rust_log.map(str::to_string))
            .unwrap()
            .to_string()
    }

    #[test]
    fn each_v_shows_one_more_level_of_shoals_lines() {
        assert_eq!(shown(0, Baseline::Command, None), "shoal=warn,warn");
        assert_eq!(shown(1, Baseline::Command, None), "shoal=info,warn");
        assert_eq!(shown(0, Baseline::Service, None), "shoal=info,warn");
        assert_eq!(shown(2, Baseline::Service, None), "shoal=trace,warn");
        assert_eq!(shown(3, Baseline::Command, None), "shoal=trace,trace");
        assert_eq!(shown(9, Baseline::Service, None), "shoal=trace,trace");
    }

    #[test]
    fn rust_log_decides_when_set_and_an_empty_one_is_ignored() {
        assert_eq!(
            shown(2, Baseline::Service, Some("shoal_coord=debug")),
            "shoal_coord=debug"
        );
        assert_eq!(shown(0, Baseline::Command, Some(" ")), "shoal=warn,warn");
    }

    #[test]
    fn a_malformed_rust_log_names_the_variable() {
        match filter(0, Baseline::Command, Some("shoal=loud".into())) {
            Err(CliError::Usage(message)) => {
                assert!(
                    message.starts_with("RUST_LOG=\"shoal=loud\": "),
                    "{message}"
                )
            }
            other => panic!("not a usage error: {other:?}"),
        }
    }

    /// The libraries' side of the contract: a library line printed with
    /// `eprintln!` would bypass the filter, the JSON format and the spans.
    #[test]
    fn library_crates_log_through_tracing_not_eprintln() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("crates/");
        let mut offenders = Vec::new();
        for krate in std::fs::read_dir(crates).expect("list crates/") {
            let krate = krate.expect("crate dir").path();
            // The binary's crate prints its user-facing messages itself.
            if krate.ends_with("shoal-cli") {
                continue;
            }
            rust_files(&krate.join("src"), &mut |file, text| {
                if text.contains("eprintln!(") {
                    offenders.push(file.display().to_string());
                }
            });
        }
        assert!(offenders.is_empty(), "eprintln! in {offenders:?}");
    }

    fn rust_files(dir: &std::path::Path, visit: &mut dyn FnMut(&std::path::Path, &str)) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                rust_files(&path, visit);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                visit(&path, &text);
            }
        }
    }
}
