//! Clickstream event logs for Shoal's user-behaviour analytics.
//!
//! Two halves:
//! - **Input** ([`plan_splits`], [`read_split`]): the driver expands the
//!   user's inputs (files, directories, globs, `file://` URLs, store URLs
//!   such as `s3://bucket/events/`), resolves each
//!   file's format, checks the mapped columns exist and cuts large files into
//!   [`Split`]s that start on true record boundaries. Workers (threads or other
//!   machines) read one split each and hand every accepted row to an
//!   [`EventSink`] as a borrowed [`Event`]; bad rows are counted in
//!   [`SplitStats`] with file:line and a reason.
//! - **Generator** ([`generate`]): deterministic, realistic synthetic logs
//!   (skewed users and items, sessions, view → cart → purchase drop-off,
//!   returning users) written in parallel, one RNG stream per file.
//!
//! The crate knows nothing of shuffles, stages, jobs or reports: it turns
//! bytes into events and events into bytes.

#![deny(missing_docs)]

mod collect;
mod csv;
mod error;
mod event;
mod expand;
mod gen;
mod jsonl;
mod options;
mod parquet_read;
mod plan;
mod read;
mod remote_parquet;
mod scan;
mod source;
mod split;
mod text;
mod ts;

pub use error::{ColumnMapError, GenError, InputError, ParseOptionError};
pub use event::{Event, EventSink};
pub use gen::{generate, GenFormat, GenOptions, GenSummary};
pub use options::{ColumnMap, Compression, Format, ReadOptions, TsUnit};
pub use plan::plan_splits;
pub use read::read_split;
pub use split::{Rejection, Split, SplitRange, SplitStats, MAX_KEPT_REJECTIONS};
pub use ts::{parse_rfc3339_ms, parse_ts_ms};
