//! Units of parallel reading and what reading one produced.

use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::options::{Compression, Format};

/// How many rejected rows a [`SplitStats`] keeps in detail.
pub const MAX_KEPT_REJECTIONS: usize = 10;

/// A unit of parallel reading: a whole file, a byte range of an uncompressed
/// CSV/JSONL file (on record boundaries, or a chunk cut at any byte), or a
/// range of Parquet row groups. Serializable: splits travel inside job params to
/// other machines, which must see the same file at the same path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The file to read.
    pub path: PathBuf,
    /// The resolved format (never `Auto`).
    pub format: Format,
    /// Stream compression (only for CSV/JSONL).
    pub compression: Compression,
    /// Which part of the file.
    pub range: SplitRange,
    /// CSV column names as found by the planner, for byte-range splits that
    /// start after the header. Empty for other formats and whole files.
    pub header: Vec<String>,
    /// Bytes of the file this split covers (compressed size for compressed
    /// files and Parquet), for scheduling and progress.
    pub size_bytes: u64,
}

/// The part of a file a [`Split`] covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitRange {
    /// The whole (compressed) stream; a CSV header is its first record.
    Whole,
    /// Bytes `[start, end)` of an uncompressed file holding only data
    /// records (the CSV header is before `start`), the first of which begins
    /// on physical line `first_line` (1-based).
    Bytes {
        /// First byte, on a record boundary.
        start: u64,
        /// One past the last byte, on a record boundary.
        end: u64,
        /// Line number of the record at `start`.
        first_line: u64,
    },
    /// Bytes `[start, end)` of an uncompressed file, cut at byte offsets by
    /// [`plan_chunks`](crate::plan_chunks) without reading them. The split
    /// owns the records whose preceding record ends (its newline) in
    /// `[start, end)` — plus, when `line` is known, the record at `start`
    /// itself — and reads past `end` to finish its last record. Rejected
    /// rows of a chunk carry lines counted from the line holding `start`
    /// (0-based) until [`place_chunks`](crate::place_chunks) makes them
    /// file lines.
    Chunk {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// Physical line (1-based) of the record at `start` when `start` is
        /// known to be a record start (a file's first chunk, after the CSV
        /// header); `None` when the reader must find its first record.
        line: Option<u64>,
        /// Whether `start` lies inside a quoted CSV field, when known;
        /// `None` when the reader guesses (checked afterwards by
        /// [`place_chunks`](crate::place_chunks)).
        in_quotes: Option<bool>,
        /// The file's size when planned, so that a reader of an object in
        /// a store needs no request to learn it; `None` when unknown (the
        /// reader asks). A local file is always asked (it costs nothing).
        #[serde(default)]
        file_size: Option<u64>,
    },
    /// Parquet row groups `[first, first + count)`, whose first row has
    /// index `first_row` in the file.
    RowGroups {
        /// First row group.
        first: usize,
        /// Number of row groups.
        count: usize,
        /// File-wide index of the first row.
        first_row: u64,
        /// Byte ranges of the column chunks of row group `first` that the
        /// reader decodes, as planned: from a store they are fetched
        /// together with the footer. Empty when unknown; a reader that
        /// finds the file changed ignores them.
        #[serde(default)]
        first_chunks: Vec<Range<u64>>,
    },
}

/// What reading a [`SplitRange::Chunk`] saw of the chunk's own bytes
/// `[start, end)`: enough to place it in its file once the chunks before
/// it are read ([`place_chunks`](crate::place_chunks)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSummary {
    /// Newlines in the chunk's bytes.
    pub newlines: u64,
    /// Whether the chunk's bytes hold an odd number of `"` (CSV only).
    pub odd_quotes: bool,
    /// The quote state the reader took for `start` (known or guessed).
    pub in_quotes: bool,
}

/// One rejected row: where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The file, as given by the split's path.
    pub file: String,
    /// Physical line (1-based, the CSV header is line 1) where the record
    /// starts; for Parquet the 0-based row index in the file; for a chunk
    /// split not yet placed, lines after the one holding its first byte.
    pub line: u64,
    /// Why the row was rejected.
    pub reason: String,
}

/// What reading one split produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitStats {
    /// Rows handed to the sink.
    pub accepted: u64,
    /// Rows skipped as bad.
    pub rejected: u64,
    /// File bytes covered (see [`Split::size_bytes`]).
    pub bytes: u64,
    /// The first [`MAX_KEPT_REJECTIONS`] rejections, in file order.
    pub rejects: Vec<Rejection>,
    /// For a chunk split: what its bytes hold (see [`ChunkSummary`]).
    #[serde(default)]
    pub chunk: Option<ChunkSummary>,
}

impl SplitStats {
    /// Adds another split's counts; keeps the first rejections overall
    /// when merged in split order.
    pub fn merge(&mut self, other: &SplitStats) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.bytes += other.bytes;
        let room = MAX_KEPT_REJECTIONS.saturating_sub(self.rejects.len());
        self.rejects
            .extend(other.rejects.iter().take(room).cloned());
    }
}
