//! What the user tells the reader: format, column names, timestamp unit,
//! strictness. Every type parses from its command-line spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ColumnMapError, ParseOptionError};

/// Input file format. `Auto` decides per file by extension (after an
/// optional `.gz` / `.zst`): `.csv`; `.jsonl`, `.ndjson`, `.json`;
/// `.parquet`, `.pq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Decide by file extension.
    #[default]
    Auto,
    /// CSV with a header row (RFC 4180 quoting, UTF-8, `,` separator).
    Csv,
    /// JSON Lines: one flat JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl FromStr for Format {
    type Err = ParseOptionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" | "json" => Ok(Format::Jsonl),
            "parquet" => Ok(Format::Parquet),
            _ => Err(ParseOptionError {
                option: "format",
                value: s.to_string(),
                expected: "auto, csv, jsonl or parquet",
            }),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        })
    }
}

/// Stream compression of a text file, from its extension (shared with
/// every input reader).
pub use shoal_store::inputs::Compression;

/// Unit of integer timestamps. RFC 3339 text is accepted whatever the unit.
/// Finer units truncate toward negative infinity to milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TsUnit {
    /// Seconds.
    S,
    /// Milliseconds (the default).
    #[default]
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl FromStr for TsUnit {
    type Err = ParseOptionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "s" => Ok(TsUnit::S),
            "ms" => Ok(TsUnit::Ms),
            "us" => Ok(TsUnit::Us),
            "ns" => Ok(TsUnit::Ns),
            _ => Err(ParseOptionError {
                option: "ts-unit",
                value: s.to_string(),
                expected: "s, ms, us or ns",
            }),
        }
    }
}

impl TsUnit {
    /// Converts an integer in this unit to epoch milliseconds; `None` on
    /// overflow (seconds far outside any real date).
    pub fn to_ms(self, value: i64) -> Option<i64> {
        match self {
            TsUnit::S => value.checked_mul(1000),
            TsUnit::Ms => Some(value),
            TsUnit::Us => Some(value.div_euclid(1000)),
            TsUnit::Ns => Some(value.div_euclid(1_000_000)),
        }
    }
}

/// Which input column plays which role. Parsed from
/// `user_id=visitorid,ts=timestamp,item=itemid`; roles not mentioned keep
/// their own name (`user_id`, `ts`, `event`, `item`).
///
/// The item column is optional when left at its default name: files
/// without an `item` column read with `item == ""`. Naming it explicitly
/// makes it required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    user_id: String,
    ts: String,
    event: String,
    item: String,
    item_required: bool,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            user_id: "user_id".into(),
            ts: "ts".into(),
            event: "event".into(),
            item: "item".into(),
            item_required: false,
        }
    }
}

impl ColumnMap {
    /// Input column holding the user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    /// Input column holding the timestamp.
    pub fn ts(&self) -> &str {
        &self.ts
    }
    /// Input column holding the event type.
    pub fn event(&self) -> &str {
        &self.event
    }
    /// Input column holding the item.
    pub fn item(&self) -> &str {
        &self.item
    }
    /// Whether a file without the item column is an error.
    pub fn item_required(&self) -> bool {
        self.item_required
    }
    /// `(role, column)` pairs of the required columns, for validation.
    pub fn required(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            ("user_id", self.user_id.as_str()),
            ("ts", self.ts.as_str()),
            ("event", self.event.as_str()),
        ];
        if self.item_required {
            out.push(("item", self.item.as_str()));
        }
        out
    }
}

impl FromStr for ColumnMap {
    type Err = ColumnMapError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut map = ColumnMap::default();
        let mut seen: Vec<&str> = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (role, column) =
                entry
                    .split_once('=')
                    .ok_or_else(|| ColumnMapError::MissingEquals {
                        entry: entry.to_string(),
                    })?;
            let (role, column) = (role.trim(), column.trim());
            if column.is_empty() {
                return Err(ColumnMapError::EmptyColumn {
                    role: role.to_string(),
                });
            }
            if seen.contains(&role) {
                return Err(ColumnMapError::Duplicate {
                    role: role.to_string(),
                });
            }
            seen.push(role);
            let slot = match role {
                "user_id" => &mut map.user_id,
                "ts" => &mut map.ts,
                "event" => &mut map.event,
                "item" => {
                    map.item_required = true;
                    &mut map.item
                }
                _ => {
                    return Err(ColumnMapError::UnknownRole {
                        role: role.to_string(),
                    })
                }
            };
            *slot = column.to_string();
        }
        Ok(map)
    }
}

/// Everything [`crate::plan_splits`] and [`crate::read_split`] need to know
/// about the input besides the files themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// File format (`Auto` by extension).
    pub format: Format,
    /// Column names for each role.
    pub columns: ColumnMap,
    /// Unit of integer timestamps.
    pub ts_unit: TsUnit,
    /// When true the first bad row is an error instead of a counted skip.
    pub strict: bool,
}
