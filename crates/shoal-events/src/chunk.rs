//! Reading a chunk split ([`SplitRange::Chunk`](crate::SplitRange)): bytes
//! `[start, end)` of an uncompressed CSV or JSON Lines file that the planner
//! cut at byte offsets without reading them.
//!
//! ```text
//!  file  ─header─┬────────── chunk 0 ──────────┬────────── chunk 1 ──────────┬─ …
//!                H (a record start, line known) c1                           c2
//!  chunk 1:                                     ├skip┤ records ending < c2 ……├ last record ┤
//!                                               first record end ≥ c1        ends past c2
//! ```
//!
//! A chunk owns the records whose preceding newline lies in its bytes (a
//! file's first chunk also the record at its start), so neighbouring
//! chunks share no record and miss none. Its reader
//! 1. takes the quote state at `start`: known, or guessed from the first
//!    decisive quote ahead ([`guess_in_quotes`]);
//! 2. skips to the first record end at or after `start` (a newline at even
//!    quote parity — the rule [`record_end`] applies);
//! 3. parses the records that end before `end`, then the one that straddles
//!    `end`, reading on in growing windows (the chunk's own read already
//!    takes the first 64 KiB past `end`, where that record usually ends, so
//!    from a store it costs no request of its own);
//! 4. counts the newlines and quotes of `[start, end)`: the
//!    [`ChunkSummary`] that places the chunk in its file once the chunks
//!    before it are read, and checks the guess ([`place_chunks`](crate::place_chunks)).
//!
//! The summary counts bytes, not records, so it does not depend on the
//! guess: a wrong guess is always found afterwards, and the truth is known.

use std::io::Read;
use std::path::Path;

use memchr::{memchr, memchr2, memchr_iter};

use crate::csv::record_end;
use crate::error::InputError;
use crate::source::Source;
use crate::split::ChunkSummary;
use crate::text::{read_some, ChunkParser, CHUNK};
use crate::window::{GrowingReader, FIRST as WINDOW};

/// Where a chunk lies in its file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkBounds {
    /// First byte.
    pub(crate) start: u64,
    /// One past the last byte.
    pub(crate) end: u64,
    /// The file's size.
    pub(crate) size: u64,
}

/// What the reader knows about the chunk's first byte.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkStart {
    /// `start` is a record start (a file's first chunk).
    pub(crate) is_record: bool,
    /// The quote state at `start`, when known.
    pub(crate) in_quotes: Option<bool>,
    /// CSV (quotes matter) rather than JSON Lines.
    pub(crate) csv: bool,
}

/// Reads the records a chunk owns into the parser `make` builds (given
/// the first record's line, counted from the line holding `start`).
/// `summary` is filled as bytes arrive, so an error still leaves the quote
/// state that was taken.
pub(crate) fn read_chunk<P: ChunkParser>(
    source: &Source,
    bounds: ChunkBounds,
    first: ChunkStart,
    summary: &mut ChunkSummary,
    make: impl FnOnce(u64) -> P,
) -> Result<(), InputError> {
    let mut body = Body::open(source, bounds, first.csv)?;
    let mut buf = Buffer::new(CHUNK.min((bounds.end - bounds.start) as usize + 1).max(64));
    buf.base = bounds.start;
    body.fill(&mut buf, summary)?;
    let in_quotes = match (first.is_record, first.in_quotes) {
        (true, _) => false,
        (false, Some(known)) => known,
        (false, None) => first.csv && guess_in_quotes(buf.data()),
    };
    summary.in_quotes = in_quotes;
    let mut first_line = 0;
    if !first.is_record {
        let mut skip = Skip {
            in_quotes,
            csv: first.csv,
            newlines: 0,
        };
        loop {
            if let Some(k) = skip.find(buf.data()) {
                buf.pos += k;
                break;
            }
            buf.pos = buf.filled;
            if body.done {
                return Ok(()); // no record ends here: the chunk owns none
            }
            body.fill(&mut buf, summary)?;
        }
        first_line = skip.newlines;
    }
    let mut parser = make(first_line);
    // The records ending before `end`: the buffer holds only the chunk's
    // own bytes until the body is done.
    loop {
        let used = parser.parse(buf.data(), false)?;
        buf.pos += used;
        if body.done {
            break;
        }
        body.fill(&mut buf, summary)?;
    }
    last_record(source, bounds, body, &mut buf, &mut parser)
}

/// Parses the one record starting at the buffer's position (at or before
/// `end`), reading past `end` — the rest of the body's read, then growing
/// windows — until it is complete.
fn last_record(
    source: &Source,
    bounds: ChunkBounds,
    body: Body<'_>,
    buf: &mut Buffer,
    parser: &mut impl ChunkParser,
) -> Result<(), InputError> {
    let path = source.path();
    let csv = body.csv;
    let windows = GrowingReader::new(source, body.read_end, bounds.size);
    let mut rest = body.reader.chain(windows);
    let mut eof = bounds.end >= bounds.size;
    loop {
        let data = buf.data();
        let complete = if csv {
            record_end(data, 0, eof).map(|(_, next, _)| next)
        } else {
            memchr(b'\n', data)
                .map(|i| i + 1)
                .or(eof.then_some(data.len()))
        };
        if let Some(len) = complete {
            parser.parse(&data[..len], true)?;
            return Ok(());
        }
        buf.make_room();
        let n = read_some(&mut rest, &mut buf.bytes[buf.filled..], path, "text")?;
        buf.filled += n;
        eof = n == 0;
    }
}

/// The chunk's own bytes, counted as they are read, from one ranged read
/// that goes on [`WINDOW`] bytes past them for the last record.
struct Body<'s> {
    reader: Box<dyn Read + 's>,
    /// Where the reader's range ends.
    read_end: u64,
    path: &'s Path,
    csv: bool,
    /// Bytes of the chunk still expected.
    left: u64,
    done: bool,
}

impl<'s> Body<'s> {
    fn open(source: &'s Source, bounds: ChunkBounds, csv: bool) -> Result<Self, InputError> {
        let left = bounds.end - bounds.start;
        let read_end = bounds.end.saturating_add(WINDOW).min(bounds.size);
        Ok(Body {
            reader: source.open_range(bounds.start, read_end)?,
            read_end,
            path: source.path(),
            csv,
            left,
            done: left == 0,
        })
    }

    /// Reads more of the chunk into `buf` (until it is full or the chunk
    /// ends), counting newlines and quotes.
    fn fill(&mut self, buf: &mut Buffer, summary: &mut ChunkSummary) -> Result<(), InputError> {
        buf.make_room();
        while !self.done && buf.filled < buf.bytes.len() {
            let room = (buf.bytes.len() - buf.filled).min(self.left as usize);
            let new = &mut buf.bytes[buf.filled..buf.filled + room];
            let n = read_some(&mut self.reader, new, self.path, "text")?;
            if n == 0 {
                return Err(InputError::StaleSplit {
                    path: self.path.to_path_buf(),
                    what: format!("chunk ({} bytes short: the file shrank?)", self.left),
                });
            }
            let new = &new[..n];
            summary.newlines += count(new, b'\n');
            if self.csv {
                summary.odd_quotes ^= count(new, b'"') % 2 == 1;
            }
            buf.filled += n;
            self.left -= n as u64;
            self.done = self.left == 0;
        }
        Ok(())
    }
}

/// Occurrences of `byte` in `data` (a plain loop the compiler vectorises;
/// faster than iterating matches when they are dense, as newlines are).
pub(crate) fn count(data: &[u8], byte: u8) -> u64 {
    data.iter().filter(|&&c| c == byte).count() as u64
}

/// A read buffer: `bytes[pos..filled]` are unconsumed and `bytes[0]` is at
/// file offset `base`.
struct Buffer {
    bytes: Vec<u8>,
    pos: usize,
    filled: usize,
    base: u64,
}

impl Buffer {
    fn new(len: usize) -> Self {
        Buffer {
            bytes: vec![0; len],
            pos: 0,
            filled: 0,
            base: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[self.pos..self.filled]
    }

    /// Moves the unconsumed bytes to the front; doubles the buffer when
    /// they fill it (one record longer than the buffer).
    fn make_room(&mut self) {
        if self.pos > 0 {
            self.bytes.copy_within(self.pos..self.filled, 0);
            self.base += self.pos as u64;
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.bytes.len() {
            self.bytes.resize(self.bytes.len() * 2, 0);
        }
    }
}

/// Looks for the first record end (a newline outside quotes) across
/// buffers, counting the newlines passed.
struct Skip {
    in_quotes: bool,
    csv: bool,
    newlines: u64,
}

impl Skip {
    /// The index just past the first record end in `data`, if any.
    fn find(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = 0;
        loop {
            let hit = if self.csv {
                memchr2(b'"', b'\n', &data[i..])
            } else {
                memchr(b'\n', &data[i..])
            };
            let j = i + hit?;
            i = j + 1;
            if data[j] == b'"' {
                self.in_quotes = !self.in_quotes;
                continue;
            }
            self.newlines += 1;
            if !self.in_quotes {
                return Some(i);
            }
        }
    }
}

/// Guesses whether `data`, a chunk's first bytes, starts inside a quoted
/// field, from its first decisive quote. In valid CSV a quote right after
/// an ordinary character closes a quoted field (or starts a `""` escape
/// inside one), so the text before it was quoted; a quote right before an
/// ordinary character opens a field, so the text before it was not. Quotes
/// between commas, line ends and other quotes decide nothing. Without a
/// decisive quote: not quoted, as most text is. A wrong guess is caught
/// afterwards ([`place_chunks`](crate::place_chunks)), never trusted.
pub(crate) fn guess_in_quotes(data: &[u8]) -> bool {
    let special = |c: u8| matches!(c, b',' | b'\n' | b'\r' | b'"');
    for (before, j) in memchr_iter(b'"', data).enumerate() {
        let closes = j > 0 && !special(data[j - 1]);
        let opens = data.get(j + 1).is_some_and(|&c| !special(c));
        match (closes, opens) {
            (true, false) => return before % 2 == 0,
            (false, true) => return before % 2 == 1,
            _ => {}
        }
    }
    false
}

/// Newlines and quote parity of a file's bytes `[0, start)` and of
/// `[start, end)`, by reading them: what a guessed chunk needs to name a
/// file line exactly when it must fail at once (`--strict`). Quotes before
/// the first data record pair up (the header ends outside quotes), so the
/// parity at `start` is that of every quote before it.
pub(crate) fn exact_counts(
    source: &Source,
    start: u64,
    end: u64,
) -> Result<(ChunkSummary, ChunkSummary), InputError> {
    let path = source.path();
    let mut reader = source.open_range(0, end)?;
    let mut buf = vec![0u8; CHUNK];
    let (mut before, mut within) = (ChunkSummary::default(), ChunkSummary::default());
    let mut at = 0u64;
    while at < end {
        let n = read_some(&mut reader, &mut buf, path, "text")?;
        if n == 0 {
            return Err(InputError::StaleSplit {
                path: path.to_path_buf(),
                what: format!("chunk {start}..{end} (the file ends at {at})"),
            });
        }
        let split = (start.saturating_sub(at) as usize).min(n);
        for (part, into) in [(&buf[..split], &mut before), (&buf[split..n], &mut within)] {
            into.newlines += count(part, b'\n');
            into.odd_quotes ^= count(part, b'"') % 2 == 1;
        }
        at += n as u64;
    }
    Ok((before, within))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_from_the_first_decisive_quote() {
        // (text after the cut, inside quotes at the cut)
        let cases: [(&[u8], bool); 9] = [
            (b"abc,def\n", false),
            (b"abc\",def\n", true),
            (b"x,\"abc\"\n", false),
            (b"\",\"abc\"\n", true),
            (b"\"\",\"abc\"\n", false),
            (b"a \"\"quoted\"\" word\",1\n", true),
            (b",\"\",\"\"\n", false),
            (b"\n\"u1\",\"7\"\n", false),
            (b"it\nem\",2\n", true),
        ];
        for (text, inside) in cases {
            assert_eq!(
                guess_in_quotes(text),
                inside,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn skipping_finds_the_first_newline_outside_quotes_across_buffers() {
        let mut skip = Skip {
            in_quotes: true,
            csv: true,
            newlines: 0,
        };
        assert_eq!(skip.find(b"a\nb"), None);
        assert_eq!(skip.find(b"c\",d\ne"), Some(5));
        assert_eq!(skip.newlines, 2);
        let mut jsonl = Skip {
            in_quotes: false,
            csv: false,
            newlines: 0,
        };
        assert_eq!(jsonl.find(b"{\"a\n"), Some(4));
    }
}
