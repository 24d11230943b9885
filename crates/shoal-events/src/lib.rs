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
//!   [`SplitStats`] with file:line and a reason. [`plan_chunks`] plans
//!   without reading files past their headers: its chunks find their own
//!   first records, and [`place_chunks`] places them afterwards (exact
//!   file lines, the CSV quote state each reader guessed checked).
//! - **Generator** ([`generate`]): deterministic, realistic synthetic logs
//!   (skewed users and items, sessions, view → cart → purchase drop-off,
//!   returning users) written in parallel, one RNG stream per file.
//!
//! The crate knows nothing of shuffles, stages, jobs or reports: it turns
//! bytes into events and events into bytes.

#![deny(missing_docs)]

mod chunk;
mod collect;
mod csv;
mod error;
mod event;
mod expand;
mod gen;
mod jsonl;
mod options;
mod parquet_read;
mod place;
mod plan;
mod read;
mod scan;
mod source;
mod split;
mod text;
mod ts;
mod window;

pub use error::{ColumnMapError, GenError, InputError, ParseOptionError};
pub use event::{Event, EventSink};
pub use gen::{generate, GenFormat, GenOptions, GenSummary};
pub use options::{ColumnMap, Compression, Format, ReadOptions, TsUnit};
pub use place::{place_chunks, settle_quote_states, ChunkPlacement};
pub use plan::{plan_chunks, plan_splits};
pub use read::read_split;
pub use split::{ChunkSummary, Rejection, Split, SplitRange, SplitStats, MAX_KEPT_REJECTIONS};
pub use ts::{parse_rfc3339_ms, parse_ts_ms};
