//! Typed errors. Every variant names the file (and line, column or key) at
//! fault so the CLI can print one actionable line.

use std::path::PathBuf;

use shoal_store::inputs::InputsError;
use thiserror::Error;

/// A command-line spelling that is not one of the accepted values.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("invalid --{option} value `{value}`: expected {expected}")]
pub struct ParseOptionError {
    /// The option name without dashes.
    pub option: &'static str,
    /// What the user wrote.
    pub value: String,
    /// The accepted spellings.
    pub expected: &'static str,
}

/// A `--columns` value that cannot be parsed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ColumnMapError {
    /// An entry without `=`.
    #[error("invalid --columns entry `{entry}`: expected role=column, e.g. user_id=visitorid")]
    MissingEquals {
        /// The entry as written.
        entry: String,
    },
    /// A role other than user_id, ts, event, item.
    #[error("invalid --columns role `{role}`: expected user_id, ts, event or item")]
    UnknownRole {
        /// The role as written.
        role: String,
    },
    /// `role=` with nothing after it.
    #[error("invalid --columns entry for `{role}`: empty column name")]
    EmptyColumn {
        /// The role whose column is empty.
        role: String,
    },
    /// The same role mapped twice.
    #[error("invalid --columns: role `{role}` given twice")]
    Duplicate {
        /// The repeated role.
        role: String,
    },
}

/// Why input could not be planned or read.
#[derive(Debug, Error)]
pub enum InputError {
    /// The input files cannot be found or read: a missing file, a glob
    /// that matches nothing or does not parse, an OS failure (shared with
    /// every input reader, see [`shoal_store::inputs`]).
    #[error(transparent)]
    Files(shoal_store::inputs::InputsError),
    /// A store operation on an input URL failed (the message names the
    /// operation and the object's URL; never credentials).
    #[error(transparent)]
    Store(#[from] shoal_store::StoreError),
    /// The format cannot be decided from the extension, or the combination
    /// (e.g. compressed Parquet) is not supported.
    #[error("{path}: unknown format ({reason}); name files .csv, .jsonl or .parquet (optionally .gz/.zst), or pass --format")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A mapped column is absent from a file.
    #[error("{path}: column `{column}` (for {role}) not found; columns found: {}", found_list(.found))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The role (`user_id`, `ts`, `event`, `item`).
        role: &'static str,
        /// The column name looked for.
        column: String,
        /// The columns the file does have.
        found: Vec<String>,
    },
    /// A Parquet column whose type cannot play its role.
    #[error("{path}: column `{column}` (for {role}) has unsupported type {found}")]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The role.
        role: &'static str,
        /// The column name.
        column: String,
        /// The Arrow type found.
        found: String,
    },
    /// A bad row under `strict`.
    #[error("{file}:{line}: {reason}")]
    BadRow {
        /// The file.
        file: String,
        /// Physical line (1-based, header is line 1) or Parquet row index.
        line: u64,
        /// Why the row was rejected.
        reason: String,
    },
    /// The file is not valid in its format (corrupt Parquet, bad gzip...).
    #[error("{path}: corrupt {format} data: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The format or compression expected.
        format: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// A split that does not fit its file (changed since planning?).
    #[error("{path}: split {what} does not match the file (changed since planning?)")]
    StaleSplit {
        /// The file.
        path: PathBuf,
        /// The mismatching part of the split.
        what: String,
    },
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        "(none)".to_string()
    } else {
        found.join(", ")
    }
}

impl InputError {
    /// True when the user must fix the input or flags (the CLI exits 2):
    /// missing input, unknown format, missing column, bad row under
    /// `--strict`, corrupt file, a bad store URL or option. False for OS
    /// and storage failures while reading (network, permissions).
    pub fn is_user_input(&self) -> bool {
        use shoal_store::StoreError as S;
        match self {
            InputError::Files(InputsError::Io { .. }) | InputError::StaleSplit { .. } => false,
            InputError::Store(err) => matches!(
                err,
                S::NotFound { .. }
                    | S::InvalidUrl { .. }
                    | S::InvalidOption { .. }
                    | S::NotBuilt { .. }
            ),
            _ => true,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        InputsError::io(path, source).into()
    }
}

impl From<InputsError> for InputError {
    /// Store failures stay [`InputError::Store`] wherever they surface.
    fn from(err: InputsError) -> Self {
        match err {
            InputsError::Store(err) => InputError::Store(err),
            other => InputError::Files(other),
        }
    }
}

/// Why the generator failed.
#[derive(Debug, Error)]
pub enum GenError {
    /// A generator option out of range.
    #[error("invalid --{option} {value}: {reason}")]
    InvalidOption {
        /// The option name without dashes.
        option: &'static str,
        /// The value given.
        value: u64,
        /// The accepted range.
        reason: &'static str,
    },
    /// The output directory cannot be created or written.
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("{path}: writing Parquet: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The writer's message.
        reason: String,
    },
}
