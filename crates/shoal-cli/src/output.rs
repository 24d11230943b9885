//! Where a job's result goes: stdout or `--out FILE`, as its
//! [`OutputFormat`] allows — never raw bytes on a terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use shoal_core::OutputFormat;

use crate::CliError;

/// Where to write a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file (`--out FILE`).
    File(PathBuf),
}

impl Destination {
    /// Chooses where the result of `job`, rendered as `format`, goes:
    /// `out` when given, otherwise stdout — unless the result is binary and
    /// stdout is a terminal, which is the user's mistake (exit 2). Called
    /// before the job runs, so the mistake costs nothing.
    pub fn choose(job: &str, format: OutputFormat, out: Option<PathBuf>) -> Result<Self, CliError> {
        match out {
            Some(path) => Ok(Destination::File(path)),
            None if format == OutputFormat::Binary && std::io::stdout().is_terminal() => {
                Err(CliError::usage(format!(
                    "job '{job}' writes binary output, which a terminal cannot show: \
                     give --out FILE or redirect stdout"
                )))
            }
            None => Ok(Destination::Stdout),
        }
    }

    /// Writes `bytes` exactly as they are. A closed pipe (`| head`) is not
    /// an error: the reader has what it wanted.
    pub fn write(&self, bytes: &[u8]) -> Result<(), CliError> {
        match self {
            Destination::File(path) => write_file(path, bytes),
            Destination::Stdout => {
                let mut stdout = std::io::stdout().lock();
                match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Failed(
                        anyhow::Error::new(e).context("writing stdout"),
                    )),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Writes `bytes` to `path`, naming the file on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
        .map_err(CliError::from)
}
