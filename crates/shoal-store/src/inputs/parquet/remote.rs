//! Parquet files in object stores: a `ChunkReader` over ranged requests.
//!
//! Opening fetches the file's last 64 KiB (the footer and, usually, all
//! metadata) in one request. Before a row group is decoded, its projected
//! column chunks are fetched ([`RemoteFile::fetch_ahead`]) as concurrent
//! ranged requests of at most 1 MiB; the sync Parquet reader then decodes from
//! memory, and anything not prefetched is fetched on demand.

use std::ops::Range;

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::{RangesAhead, Store, StoreError};

/// Bytes fetched from the end when opening: enough for the footer and
/// the metadata of typical files, so planning costs one request per file.
const TAIL: u64 = 64 << 10;
/// Bytes fetched when the decoder asks for a stream at an offset not
/// prefetched (page headers are read through such streams).
const WINDOW: u64 = 1 << 20;

/// One Parquet object in a store, with the byte ranges fetched so far.
/// Clones share the fetched bytes.
#[derive(Clone)]
pub(super) struct RemoteFile {
    store: Store,
    key: String,
    size: u64,
    /// Fetched regions: (start offset, bytes); the tail first.
    cached: Vec<(u64, Bytes)>,
}

impl RemoteFile {
    /// Opens `key`, fetching its size and tail in one request.
    pub(super) fn open(store: &Store, key: &str) -> Result<RemoteFile, StoreError> {
        let (tail, size) = store.get_tail(key, TAIL)?;
        let tail_start = size - tail.len() as u64;
        Ok(RemoteFile {
            store: store.clone(),
            key: key.to_string(),
            size,
            cached: vec![(tail_start, tail)],
        })
    }

    /// Starts fetching `ranges` (concurrently, in pieces of at most 1 MiB).
    pub(super) fn fetch_ahead(&self, ranges: Vec<Range<u64>>) -> Pending {
        RemoteFile::fetch_from(&self.store, &self.key, ranges)
    }

    /// [`RemoteFile::fetch_ahead`] before the file is open (its size and
    /// footer unknown): for byte ranges known from planning.
    pub(super) fn fetch_from(store: &Store, key: &str, ranges: Vec<Range<u64>>) -> Pending {
        Pending {
            starts: ranges.iter().map(|r| r.start).collect(),
            fetch: store.get_ranges_ahead(key, ranges),
        }
    }

    /// This file with the bytes of `pending` available to the decoder
    /// (and only the tail besides, so memory stays per row group).
    pub(super) fn with(&self, pending: Pending) -> Result<RemoteFile, StoreError> {
        let mut file = self.clone();
        file.cached.truncate(1);
        let fetched = pending.fetch.wait()?;
        file.cached.extend(pending.starts.into_iter().zip(fetched));
        Ok(file)
    }

    /// The fetched region holding `start` (and `len` bytes after it).
    fn region(&self, start: u64, len: u64) -> Option<Bytes> {
        self.cached.iter().find_map(|(at, bytes)| {
            let end = at + bytes.len() as u64;
            (start >= *at && start + len <= end).then(|| bytes.slice((start - at) as usize..))
        })
    }

    fn fetch(&self, range: Range<u64>) -> Result<Bytes, ParquetError> {
        self.store
            .get_range(&self.key, range)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

/// Column chunks being fetched in the background.
pub(super) struct Pending {
    starts: Vec<u64>,
    fetch: RangesAhead,
}

impl Length for RemoteFile {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for RemoteFile {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        if let Some(bytes) = self.region(start, 1) {
            return Ok(bytes.reader());
        }
        let end = start.saturating_add(WINDOW).min(self.size);
        Ok(self.fetch(start..end)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        if let Some(bytes) = self.region(start, length as u64) {
            return Ok(bytes.slice(..length));
        }
        self.fetch(start..start + length as u64)
    }
}
