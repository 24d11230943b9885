//! [`ObjectReader`]: a blocking `Read` over a byte range of an object.

use std::io::{self, Read};
use std::ops::Range;

use bytes::{Buf, Bytes};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use tokio::task::JoinHandle;

use crate::rt::{block_on, runtime};
use crate::Store;

/// Bytes per ranged request. Large enough that request latency is small
/// against transfer time; small enough that one request finishes well
/// within the per-request timeout on a slow link.
const CHUNK: u64 = 8 << 20;

type Fetch = JoinHandle<object_store::Result<Bytes>>;

/// Streams bytes `range` of one object as consecutive ranged GETs, the
/// next one already in flight while the current one is consumed. Each
/// request is retried and timed out by the store's client, so a server
/// that goes away mid-read ends in an error naming the object, never a
/// hang.
pub struct ObjectReader {
    store: Store,
    key: String,
    /// Next byte not yet requested.
    next: u64,
    end: u64,
    current: Bytes,
    ahead: Option<Fetch>,
}

impl ObjectReader {
    pub(crate) fn new(store: Store, key: String, range: Range<u64>) -> ObjectReader {
        ObjectReader {
            store,
            key,
            next: range.start,
            end: range.end.max(range.start),
            current: Bytes::new(),
            ahead: None,
        }
    }

    /// Starts the request for the next chunk, if any is left.
    fn request_next(&mut self) -> Option<Fetch> {
        if self.next >= self.end {
            return None;
        }
        let range = self.next..(self.next + CHUNK).min(self.end);
        self.next = range.end;
        let inner = self.store.inner().clone();
        let path = Path::from(self.key.as_str());
        Some(runtime().spawn(async move { inner.get_range(&path, range).await }))
    }

    /// Replaces the consumed chunk with the next one; false at the end.
    fn advance(&mut self) -> io::Result<bool> {
        let fetch = match self.ahead.take() {
            Some(fetch) => fetch,
            None => match self.request_next() {
                Some(fetch) => fetch,
                None => return Ok(false),
            },
        };
        self.ahead = self.request_next();
        let bytes = block_on(fetch)
            .map_err(|join| io::Error::other(format!("get_range {}: {join}", self.url())))?
            .map_err(|e| io::Error::other(self.store.map_error("get_range", &self.key, e)))?;
        if bytes.is_empty() {
            // Not `UnexpectedEof`: readers take that for corrupt data, and
            // an object shrinking under us is a storage failure.
            return Err(io::Error::other(format!(
                "get_range {}: object ended early (changed while reading?)",
                self.url()
            )));
        }
        self.current = bytes;
        Ok(true)
    }

    fn url(&self) -> String {
        self.store.object_url(&self.key)
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.current.is_empty() && !self.advance()? {
            return Ok(0);
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        crate::io_counters::count_read(n);
        self.current.advance(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        if let Some(fetch) = self.ahead.take() {
            fetch.abort();
        }
    }
}
