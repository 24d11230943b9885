//! Reading bytes whose needed length is unknown up front — a CSV header,
//! the first JSON Lines record, the rest of a chunk's last record — in
//! growing windows: 64 KiB first, doubling up to 4 MiB, each window one
//! ranged read. A file in a store then costs one small request when little
//! is needed and few requests when much is, instead of a full-size ranged
//! read (and the next one in flight) for a few hundred bytes.

use std::io::{self, Read};

use shoal_store::inputs::InputsError;

use crate::source::Source;

/// The first window: also what a chunk's own ranged read takes past its
/// end, where most last records end (`chunk.rs`).
pub(crate) const FIRST: u64 = 64 << 10;
/// The largest window.
const LARGEST: u64 = 4 << 20;

/// A [`Read`] over bytes `[next, end)` of a file, in growing windows.
pub(crate) struct GrowingReader<'s> {
    source: &'s Source,
    next: u64,
    end: u64,
    window: u64,
    current: Option<Box<dyn Read>>,
}

impl<'s> GrowingReader<'s> {
    /// Bytes `[start, end)` of `source`.
    pub(crate) fn new(source: &'s Source, start: u64, end: u64) -> Self {
        GrowingReader {
            source,
            next: start,
            end,
            window: FIRST,
            current: None,
        }
    }
}

impl Read for GrowingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(current) = &mut self.current {
                let n = current.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            if self.next >= self.end {
                return Ok(0);
            }
            let to = self.end.min(self.next.saturating_add(self.window));
            self.current = Some(self.source.open_range(self.next, to).map_err(to_io)?);
            self.next = to;
            self.window = (self.window * 2).min(LARGEST);
        }
    }
}

/// Carries an input error through `io::Error` so that
/// [`InputError::io`](crate::error::InputError) recovers it: store failures
/// as themselves, OS errors with their kind.
fn to_io(err: InputsError) -> io::Error {
    match err {
        InputsError::Store(store) => io::Error::other(store),
        InputsError::Io { source, .. } => source,
        InputsError::NotFound { path } => io::Error::new(io::ErrorKind::NotFound, path),
        other => io::Error::other(other.to_string()),
    }
}
