//! [`ObjectReader`]: a blocking `Read` over a byte range of an object.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::ops::Range;

use bytes::{Buf, Bytes};
use object_store::path::Path;
use tokio::task::JoinHandle;

use crate::rt::{block_on, runtime};
use crate::store::get_frames;
use crate::Store;

/// Bytes per ranged request once a read is under way. Large enough that
/// request latency is small against transfer time; small enough that one
/// request finishes well within the per-request timeout on a slow link,
/// and that a consumer waiting for a whole request (its bytes arrive all
/// at once) waits little: 40 ms at 100 MB/s.
const CHUNK: u64 = 4 << 20;

/// Bytes of a read's first request; each next one is twice as large, up
/// to [`CHUNK`]. Kept small so that the consumer starts after a
/// millisecond or two rather than after a whole chunk's transfer, while
/// the larger requests after it are already under way.
const FIRST: u64 = 256 << 10;

/// Requests in flight ahead of the one being read when a read starts. One
/// stream from a server often delivers less than a parser consumes
/// (s3s-fs on loopback: about 100 MB/s per stream, 2–3 times that over
/// several), so a read starts on several streams at once (on
/// `bench/s3.sh`'s CSV set, one ahead of 1–8 MiB requests took about
/// 0.3 s longer per job than three ahead of 256 KiB–4 MiB ones).
const FIRST_AHEAD: usize = 3;

/// Most requests in flight ahead of the one being read: a reader that
/// keeps waiting widens its window from [`FIRST_AHEAD`] up to this many
/// (at most `MAX_AHEAD` × [`CHUNK`] = 16 MiB in flight).
const MAX_AHEAD: usize = 4;

type Fetch = JoinHandle<object_store::Result<VecDeque<Bytes>>>;

/// Streams bytes `range` of one object as consecutive ranged GETs growing
/// from [`FIRST`] to [`CHUNK`] bytes, the next ones already in flight while
/// the current one is consumed: [`FIRST_AHEAD`] ahead at first, one more
/// each time the reader had to wait for a request still under way (up to
/// [`MAX_AHEAD`]), so a fast consumer gets parallel streams and a slow one
/// costs bounded memory. Each request is
/// retried and timed out by the store's client, so a server that goes
/// away mid-read ends in an error naming the object, never a hang.
pub struct ObjectReader {
    store: Store,
    key: String,
    /// Next byte not yet requested.
    next: u64,
    end: u64,
    /// Bytes of the next request.
    request: u64,
    /// The unread pieces of the request being read.
    current: VecDeque<Bytes>,
    /// Requests under way, in byte order.
    ahead: VecDeque<Fetch>,
    /// How many requests to keep ahead.
    depth: usize,
    /// Chunks handed out so far (the first wait is the start, not a sign
    /// of a slow stream).
    served: u64,
}

impl ObjectReader {
    pub(crate) fn new(store: Store, key: String, range: Range<u64>) -> ObjectReader {
        ObjectReader {
            store,
            key,
            next: range.start,
            end: range.end.max(range.start),
            request: FIRST,
            current: VecDeque::new(),
            ahead: VecDeque::new(),
            depth: FIRST_AHEAD,
            served: 0,
        }
    }

    /// Starts the request for the next chunk, if any is left.
    fn request_next(&mut self) -> Option<Fetch> {
        if self.next >= self.end {
            return None;
        }
        let range = self.next..(self.next + self.request).min(self.end);
        self.next = range.end;
        self.request = (self.request * 2).min(CHUNK);
        let inner = self.store.inner().clone();
        let path = Path::from(self.key.as_str());
        // Kept as the frames received: see `get_frames`.
        Some(runtime().spawn(async move { get_frames(&*inner, &path, range).await }))
    }

    /// Replaces the consumed chunk with the next one; false at the end.
    fn advance(&mut self) -> io::Result<bool> {
        let fetch = match self.ahead.pop_front().or_else(|| self.request_next()) {
            Some(fetch) => fetch,
            None => return Ok(false),
        };
        if self.served > 0 && !fetch.is_finished() {
            self.depth = (self.depth + 1).min(MAX_AHEAD);
        }
        while self.ahead.len() < self.depth {
            let Some(more) = self.request_next() else {
                break;
            };
            self.ahead.push_back(more);
        }
        let pieces = block_on(fetch)
            .map_err(|join| io::Error::other(format!("get_range {}: {join}", self.url())))?
            .map_err(|e| io::Error::other(self.store.map_error("get_range", &self.key, e)))?;
        if pieces.is_empty() {
            // Not `UnexpectedEof`: readers take that for corrupt data, and
            // an object shrinking under us is a storage failure.
            return Err(io::Error::other(format!(
                "get_range {}: object ended early (changed while reading?)",
                self.url()
            )));
        }
        self.current = pieces;
        self.served += 1;
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
        // Fill `buf` from as many pieces as it holds (a piece is often a
        // few KiB), so callers see the same large reads as from one buffer.
        let mut n = 0;
        while n < buf.len() {
            let Some(piece) = self.current.front_mut() else {
                break;
            };
            let take = (buf.len() - n).min(piece.len());
            buf[n..n + take].copy_from_slice(&piece[..take]);
            piece.advance(take);
            n += take;
            if piece.is_empty() {
                self.current.pop_front();
            }
        }
        crate::io_counters::count_read(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        for fetch in self.ahead.drain(..) {
            fetch.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_range_across_many_requests_in_order() {
        let store = Store::open(&format!("memory://reader-{}", std::process::id())).unwrap();
        let len = 5 * CHUNK as usize + 12345;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        store.put("big", Bytes::from(data.clone())).unwrap();
        for (range, step) in [(0..len as u64, 1 << 20), (3..len as u64 - 7, 333_333)] {
            let mut reader = store.reader("big", range.clone());
            let mut got = Vec::new();
            let mut buf = vec![0u8; step];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == data[range.start as usize..range.end as usize]);
            assert!(reader.depth <= MAX_AHEAD);
        }
    }
}
