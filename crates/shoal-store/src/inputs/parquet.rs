//! Parquet input files, local or in a store: opened footer-first, read by
//! row groups with only the projected columns (feature `parquet`).
//!
//! [`ParquetInput::open`] reads a file's metadata: from a local file, or
//! from an object in one request for its last 64 KiB (the footer and,
//! usually, all metadata). [`ParquetInput::batches`] then decodes a range
//! of row groups, projected to some top-level columns, as Arrow record
//! batches. From a store it fetches exactly the column chunks the decoder
//! will touch — the projected columns of each row group — as concurrent
//! ranged requests, several row groups ahead of decoding (up to
//! [`MAX_GROUPS_AHEAD`] and [`AHEAD_BYTES`], but always the next one), so
//! the network and the decoder work at the same time and memory stays
//! bounded. A reader that knows its first row group's column chunks from
//! planning ([`FirstGroup`], [`ParquetInput::open_fetching`]) starts
//! fetching them together with the footer instead of one round trip after
//! it. Other columns and row groups are never transferred. Shared by the
//! event readers and DistArray's Parquet source.

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::reader::ChunkReader;

use super::{InputFile, InputsError};
use remote::{Pending, RemoteFile};

mod remote;

/// Why a Parquet input could not be opened or decoded.
#[derive(Debug, thiserror::Error)]
pub enum ParquetInputError {
    /// The file cannot be found or read (missing file, OS or store failure).
    #[error(transparent)]
    Files(#[from] InputsError),
    /// The bytes are not valid Parquet (or use an unsupported feature,
    /// such as a compression codec this build lacks).
    #[error("{path}: corrupt Parquet data: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
}

/// Bytes of projected column chunks a remote reader keeps in flight ahead
/// of the row group it decodes. The next row group is always fetched, even
/// when larger: memory holds at most the group being decoded and this much
/// (or one larger group) besides.
pub const AHEAD_BYTES: u64 = 8 << 20;
/// Most row groups a remote reader fetches at once: enough that the
/// server's per-request latency and a slow single stream overlap decoding
/// (s3s-fs on loopback serves 2–3 streams faster than one).
pub const MAX_GROUPS_AHEAD: usize = 4;

/// The column chunks of the row group a reader decodes first, known
/// before its footer is read (from planning, which read the footer
/// already): [`ParquetInput::open_fetching`] requests them at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstGroup {
    /// The row group.
    pub group: usize,
    /// Byte ranges of its projected column chunks
    /// ([`ParquetInput::column_chunks`]).
    pub chunks: Vec<Range<u64>>,
}

/// A [`FirstGroup`] being fetched while the footer is read.
struct EarlyFetch {
    first: FirstGroup,
    pending: Pending,
}

/// Where an open file's bytes come from.
enum Opened {
    Local(File),
    Remote(RemoteFile),
}

/// An open Parquet file and its metadata.
pub struct ParquetInput {
    path: PathBuf,
    bytes: Opened,
    meta: ArrowReaderMetadata,
    /// Taken by the first [`ParquetInput::batches`] (a mutex because that
    /// takes `&self`; never contended).
    early: Mutex<Option<EarlyFetch>>,
}

impl ParquetInput {
    /// Opens `file` and reads its metadata (one ranged request for an
    /// object in a store).
    pub fn open(file: &InputFile) -> Result<ParquetInput, ParquetInputError> {
        ParquetInput::open_fetching(file, None)
    }

    /// [`ParquetInput::open`], and for an object in a store starts fetching
    /// `first`'s column chunks before the footer request, so both travel
    /// at once. [`ParquetInput::batches`] uses them when its first row group
    /// and projection have exactly those chunks (the file is unchanged
    /// since planning); otherwise they are dropped and fetched anew.
    pub fn open_fetching(
        file: &InputFile,
        first: Option<FirstGroup>,
    ) -> Result<ParquetInput, ParquetInputError> {
        let early = match (file, first) {
            (InputFile::Remote { store, key, .. }, Some(first)) => Some(EarlyFetch {
                pending: RemoteFile::fetch_from(store, key, first.chunks.clone()),
                first,
            }),
            _ => None,
        };
        let path = file.path().to_path_buf();
        let (bytes, meta) = match file {
            InputFile::Local(local) => {
                let opened = File::open(local).map_err(|e| InputsError::io(local, e))?;
                let meta = ArrowReaderMetadata::load(&opened, Default::default());
                (Opened::Local(opened), meta)
            }
            InputFile::Remote { store, key, .. } => {
                let opened = RemoteFile::open(store, key).map_err(InputsError::Store)?;
                let meta = ArrowReaderMetadata::load(&opened, Default::default());
                (Opened::Remote(opened), meta)
            }
        };
        let meta = meta.map_err(|e| parquet_error(&path, e))?;
        Ok(ParquetInput {
            path,
            bytes,
            meta,
            early: Mutex::new(early),
        })
    }

    /// Byte ranges of the column chunks of the top-level columns `roots`
    /// in row group `group`: all a decoder of that projection reads of it.
    pub fn column_chunks(&self, roots: &[usize], group: usize) -> Vec<Range<u64>> {
        chunk_ranges(&self.meta, roots, group)
    }

    /// The file as given, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's metadata and its Arrow schema.
    pub fn metadata(&self) -> &ArrowReaderMetadata {
        &self.meta
    }

    /// Decodes row groups `groups` projected to the top-level columns
    /// `roots` (indices into the Arrow schema), in batches of at most
    /// `batch_rows` rows. Row groups past the file's end are an error.
    pub fn batches(
        &self,
        roots: &[usize],
        groups: Range<usize>,
        batch_rows: usize,
    ) -> Result<ParquetBatches, ParquetInputError> {
        let available = self.meta.metadata().num_row_groups();
        if groups.end > available {
            return Err(ParquetInputError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "row groups {}..{} asked for, the file has {available} (changed since planning?)",
                    groups.start, groups.end
                ),
            });
        }
        let mask = ProjectionMask::roots(self.meta.parquet_schema(), roots.iter().copied());
        let plan = Plan {
            path: self.path.clone(),
            meta: self.meta.clone(),
            mask,
            batch_rows,
        };
        let state = match &self.bytes {
            Opened::Local(file) => {
                let file = file
                    .try_clone()
                    .map_err(|e| InputsError::io(&self.path, e))?;
                State::Local(plan.reader(file, groups)?)
            }
            Opened::Remote(file) => {
                let mut remote = RemoteGroups {
                    file: file.clone(),
                    roots: roots.to_vec(),
                    requested: groups.start,
                    groups,
                    ahead: VecDeque::new(),
                    current: None,
                };
                let early = self.early.lock().ok().and_then(|mut e| e.take());
                if let Some(early) = early {
                    remote.adopt(&self.meta, early);
                }
                remote.fill(&self.meta);
                State::Remote(Box::new(remote))
            }
        };
        Ok(ParquetBatches { plan, state })
    }
}

/// What every row group's decoder is built from.
struct Plan {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    batch_rows: usize,
}

impl Plan {
    fn reader<R: ChunkReader + 'static>(
        &self,
        bytes: R,
        groups: Range<usize>,
    ) -> Result<ParquetRecordBatchReader, ParquetInputError> {
        ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, self.meta.clone())
            .with_projection(self.mask.clone())
            .with_row_groups(groups.collect())
            .with_batch_size(self.batch_rows)
            .build()
            .map_err(|e| parquet_error(&self.path, e))
    }
}

/// Record batches of a range of row groups ([`ParquetInput::batches`]).
/// An error ends the stream.
pub struct ParquetBatches {
    plan: Plan,
    state: State,
}

enum State {
    /// One decoder over every row group, reading the file as it goes.
    Local(ParquetRecordBatchReader),
    /// One decoder per row group over its prefetched column chunks
    /// (boxed: it is far larger than the other states).
    Remote(Box<RemoteGroups>),
    /// After an error.
    Done,
}

struct RemoteGroups {
    file: RemoteFile,
    roots: Vec<usize>,
    /// Row groups not yet being decoded.
    groups: Range<usize>,
    /// The first row group not yet requested: `groups.start..requested`
    /// are in `ahead`.
    requested: usize,
    /// Fetches of the next row groups, in order.
    ahead: VecDeque<GroupFetch>,
    current: Option<ParquetRecordBatchReader>,
}

/// One row group's column chunks in flight.
struct GroupFetch {
    bytes: u64,
    pending: Pending,
}

/// Whether a reader with `in_flight` row groups of `in_flight_bytes` being
/// fetched starts one more of `next_bytes`: always when none is, else
/// within [`MAX_GROUPS_AHEAD`] and [`AHEAD_BYTES`].
fn room_for(in_flight: usize, in_flight_bytes: u64, next_bytes: u64) -> bool {
    in_flight == 0
        || (in_flight < MAX_GROUPS_AHEAD
            && in_flight_bytes.saturating_add(next_bytes) <= AHEAD_BYTES)
}

fn total_bytes(ranges: &[Range<u64>]) -> u64 {
    ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum()
}

impl RemoteGroups {
    /// Takes over a fetch started at open when it is exactly the first
    /// row group's chunks; drops (cancels) it otherwise.
    fn adopt(&mut self, meta: &ArrowReaderMetadata, early: EarlyFetch) {
        let first = self.groups.start;
        if self.groups.is_empty()
            || early.first.group != first
            || early.first.chunks != chunk_ranges(meta, &self.roots, first)
        {
            return;
        }
        self.ahead.push_back(GroupFetch {
            bytes: total_bytes(&early.first.chunks),
            pending: early.pending,
        });
        self.requested = first + 1;
    }

    /// Starts fetching the next row groups while there is room.
    fn fill(&mut self, meta: &ArrowReaderMetadata) {
        while self.requested < self.groups.end {
            let ranges = chunk_ranges(meta, &self.roots, self.requested);
            let bytes = total_bytes(&ranges);
            let in_flight: u64 = self.ahead.iter().map(|f| f.bytes).sum();
            if !room_for(self.ahead.len(), in_flight, bytes) {
                return;
            }
            self.ahead.push_back(GroupFetch {
                bytes,
                pending: self.file.fetch_ahead(ranges),
            });
            self.requested += 1;
        }
    }

    /// The decoder of the next row group, the ones after it in flight.
    fn next_group(&mut self, plan: &Plan) -> Result<Option<()>, ParquetInputError> {
        let Some(group) = self.groups.next() else {
            return Ok(None);
        };
        self.current = None; // its bytes leave memory before more arrive
        let fetch = match self.ahead.pop_front() {
            Some(fetch) => fetch,
            None => {
                // Nothing in flight: `requested` is `group`.
                self.requested = group + 1;
                GroupFetch {
                    bytes: 0,
                    pending: self
                        .file
                        .fetch_ahead(chunk_ranges(&plan.meta, &self.roots, group)),
                }
            }
        };
        self.fill(&plan.meta);
        let bytes = self.file.with(fetch.pending).map_err(InputsError::Store)?;
        self.current = Some(plan.reader(bytes, group..group + 1)?);
        Ok(Some(()))
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch, ParquetInputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = &self.plan.path;
        let decoded = |batch: Result<RecordBatch, arrow_schema::ArrowError>| {
            batch.map_err(|e| parquet_error(path, arrow_to_parquet(e)))
        };
        let outcome = match &mut self.state {
            State::Done => return None,
            State::Local(reader) => reader.next().map(decoded),
            State::Remote(groups) => loop {
                if let Some(batch) = groups.current.as_mut().and_then(Iterator::next) {
                    break Some(decoded(batch));
                }
                match groups.next_group(&self.plan) {
                    Ok(Some(())) => {}
                    Ok(None) => break None,
                    Err(e) => break Some(Err(e)),
                }
            },
        };
        if matches!(outcome, Some(Err(_))) {
            self.state = State::Done;
        }
        outcome
    }
}

/// Byte ranges of the column chunks of the top-level columns `roots` in
/// row group `group`: all its decoder will read.
fn chunk_ranges(meta: &ArrowReaderMetadata, roots: &[usize], group: usize) -> Vec<Range<u64>> {
    let schema = meta.parquet_schema();
    let group = meta.metadata().row_group(group);
    (0..schema.num_columns())
        .filter(|&leaf| roots.contains(&schema.get_column_root_idx(leaf)))
        .map(|leaf| {
            let (start, len) = group.column(leaf).byte_range();
            start..start + len
        })
        .collect()
}

/// A Parquet error, unless it wraps a storage failure, which is reported
/// as such (not as corrupt data: the file may be fine).
fn parquet_error(path: &Path, err: ParquetError) -> ParquetInputError {
    let corrupt = |reason: String| ParquetInputError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    match err {
        ParquetError::External(inner) => match inner.downcast::<crate::StoreError>() {
            Ok(store) => ParquetInputError::Files(InputsError::Store(*store)),
            Err(other) => corrupt(other.to_string()),
        },
        other => corrupt(other.to_string()),
    }
}

/// Arrow errors from the Parquet reader wrap its `ParquetError`s.
fn arrow_to_parquet(err: arrow_schema::ArrowError) -> ParquetError {
    match err {
        arrow_schema::ArrowError::ExternalError(inner) => match inner.downcast::<ParquetError>() {
            Ok(parquet) => *parquet,
            Err(other) => ParquetError::External(other),
        },
        other => ParquetError::External(Box::new(other)),
    }
}

#[cfg(test)]
mod tests;
