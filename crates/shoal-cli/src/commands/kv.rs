//! `shoal kv get|put|del KEY [VALUE]`: the coordination key-value store.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::lock::{coord_error, CoordOpt};
use crate::{program_name, CliError};

/// Read and write the versioned key-value store.
#[derive(Debug, Args)]
pub struct KvArgs {
    /// What to do.
    #[command(subcommand)]
    pub op: KvOp,
    /// Where the coordination state lives.
    #[command(flatten)]
    pub coord: CoordOpt,
}

/// Key-value operations.
#[derive(Debug, Subcommand)]
pub enum KvOp {
    /// Print a key's value (exit 1 if absent).
    Get {
        /// The key.
        key: String,
    },
    /// Set a key.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Expire the key after this long (e.g. 90s, 1h).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
    },
    /// Delete a key (no error if absent).
    Del {
        /// The key.
        key: String,
    },
}

/// Runs one key-value operation.
pub fn run(args: KvArgs) -> Result<ExitCode, CliError> {
    args.coord.run(async |coord| match args.op {
        KvOp::Get { key } => match coord.get(&key).await.map_err(coord_error)? {
            Some(found) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&found.value)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("{}: key {key:?} not found", program_name());
                Ok(ExitCode::from(1))
            }
        },
        KvOp::Put { key, value, ttl } => {
            match ttl {
                Some(ttl) => coord.put_with_ttl(&key, value, ttl).await,
                None => coord.put(&key, value).await,
            }
            .map_err(coord_error)?;
            Ok(ExitCode::SUCCESS)
        }
        KvOp::Del { key } => {
            coord.delete(&key).await.map_err(coord_error)?;
            Ok(ExitCode::SUCCESS)
        }
    })
}
