//! Streaming large buffered reads for the text formats: hands a parser
//! chunks of whole records, carrying an incomplete tail to the next read.

use std::io::Read;
use std::path::Path;

use crate::error::InputError;

/// Bytes per read. Large enough that per-read overhead vanishes, small
/// enough to stay cache- and memory-friendly with one buffer per worker.
pub(crate) const CHUNK: usize = 4 << 20;

/// Parses records out of a byte buffer.
pub(crate) trait ChunkParser {
    /// Consumes whole records at the front of `data` and returns how many
    /// bytes were consumed. With `eof` the data ends the input, so an
    /// unterminated last record is complete and everything must be consumed.
    fn parse(&mut self, data: &[u8], eof: bool) -> Result<usize, InputError>;
}

/// Feeds `reader` (at most `limit` bytes) through `parser`.
pub(crate) fn drive<R: Read>(
    mut reader: R,
    limit: u64,
    path: &Path,
    format: &'static str,
    parser: &mut dyn ChunkParser,
) -> Result<(), InputError> {
    let mut buf = vec![0u8; CHUNK.min(limit.saturating_add(1) as usize).max(64)];
    let mut filled = 0usize;
    let mut remaining = limit;
    loop {
        let mut eof = remaining == 0;
        while !eof && filled < buf.len() {
            let want = (buf.len() - filled).min(remaining as usize);
            let n = read_some(&mut reader, &mut buf[filled..filled + want], path, format)?;
            if n == 0 {
                eof = true;
            } else {
                filled += n;
                remaining -= n as u64;
                eof = remaining == 0;
            }
        }
        let consumed = parser.parse(&buf[..filled], eof)?;
        if eof {
            return Ok(());
        }
        if consumed == 0 && filled == buf.len() {
            // One record longer than the buffer: grow instead of looping.
            buf.resize(buf.len() * 2, 0);
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

pub(crate) fn read_some<R: Read>(
    reader: &mut R,
    buf: &mut [u8],
    path: &Path,
    format: &'static str,
) -> Result<usize, InputError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Err(InputError::Corrupt {
                    path: path.to_path_buf(),
                    format,
                    reason: e.to_string(),
                })
            }
            Err(e) => {
                // Decoders report corrupt streams as `Other`; they pass a
                // remote reader's storage failure through unchanged.
                let storage = e
                    .get_ref()
                    .is_some_and(|inner| inner.is::<shoal_store::StoreError>());
                if format != "text" && !storage {
                    return Err(InputError::Corrupt {
                        path: path.to_path_buf(),
                        format,
                        reason: e.to_string(),
                    });
                }
                return Err(InputError::io(path, e));
            }
        }
    }
}

/// Lazily known position of the next byte that is not valid UTF-8, so whole
/// chunks are validated in one fast pass and only rows holding a bad byte
/// pay for a second look.
pub(crate) struct Utf8Cursor<'d> {
    data: &'d [u8],
    /// Start of the validated window.
    from: usize,
    /// The window `data[from..from + valid.len()]`, known valid.
    valid: &'d str,
}

impl<'d> Utf8Cursor<'d> {
    pub(crate) fn new(data: &'d [u8]) -> Self {
        let mut cursor = Utf8Cursor {
            data,
            from: 0,
            valid: "",
        };
        cursor.refill(0);
        cursor
    }

    fn refill(&mut self, from: usize) {
        self.from = from;
        let rest = &self.data[from.min(self.data.len())..];
        self.valid = match std::str::from_utf8(rest) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
        };
    }

    /// `data[start..end]` as text when valid UTF-8, `None` otherwise.
    /// Calls must come with non-decreasing `start`.
    #[inline]
    pub(crate) fn get(&mut self, start: usize, end: usize) -> Option<&'d str> {
        if start < self.from || end > self.from + self.valid.len() {
            if start >= self.from + self.valid.len() || start < self.from {
                self.refill(start);
                if end <= self.from + self.valid.len() {
                    return self.valid.get(start - self.from..end - self.from);
                }
            }
            return std::str::from_utf8(&self.data[start..end]).ok();
        }
        self.valid.get(start - self.from..end - self.from)
    }
}
