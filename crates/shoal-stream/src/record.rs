//! Records: a program's output lines cut into key and value.
//!
//! A line's key is its bytes up to the first separator (tab by default),
//! or up to the N-th with `--key-fields N`; the value is the rest. A line
//! with fewer separators is all key, with an empty value. Records keep the
//! line's bytes as a slice of the chunk they were read in (no copy, no
//! allocation per record) and sort by key bytes — the order of
//! `LC_ALL=C sort`.
//!
//! Between stages a record travels in the form a reducer reads it,
//! `key SEP value`, behind its key length and line length as varints:
//!
//! ```text
//! [varint key_len][varint line_len][key SEP value]   … repeated
//! ```
//!
//! The key length travels because re-cutting the line could find another
//! key: a line with fewer than N separators gains one when its empty value
//! is written out.

use std::cmp::Ordering;
use std::io::Read;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use shoal_core::extsort::RunCodec;
use shoal_core::TaskError;

/// How a line is cut into key and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// The field separator (tab by default); never empty, never a newline.
    pub separator: String,
    /// How many fields make the key (1 by default).
    pub key_fields: u32,
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec {
            separator: "\t".to_string(),
            key_fields: 1,
        }
    }
}

impl KeySpec {
    /// Checks the settings, naming the flag at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.separator.is_empty() {
            return Err("--separator must not be empty".into());
        }
        if self.separator.contains('\n') {
            return Err("--separator must not contain a newline".into());
        }
        if self.key_fields == 0 {
            return Err("--key-fields must be at least 1".into());
        }
        Ok(())
    }

    /// The key's length in `line`, and whether a separator follows it.
    pub fn cut(&self, line: &[u8]) -> (usize, bool) {
        let sep = self.separator.as_bytes();
        let mut from = 0;
        for field in 1..=self.key_fields {
            let found = if sep.len() == 1 {
                memchr::memchr(sep[0], &line[from..])
            } else {
                memchr::memmem::find(&line[from..], sep)
            };
            match found {
                Some(at) if field == self.key_fields => return (from + at, true),
                Some(at) => from += at + sep.len(),
                None => return (line.len(), false),
            }
        }
        (line.len(), false)
    }

    /// The record of one line (a slice of its chunk, without the newline).
    pub fn record(&self, line: Bytes) -> Record {
        let (key_len, separated) = self.cut(&line);
        Record {
            line,
            key_len: key_len as u32,
            separated,
        }
    }
}

/// One line cut into key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    line: Bytes,
    key_len: u32,
    /// Whether `line` has a separator after the key (else the value is
    /// empty and the separator is added when the record is written out).
    separated: bool,
}

impl Record {
    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.line[..self.key_len as usize]
    }

    /// The line as the program wrote it.
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// Appends `key SEP value\n`, the line a reducer or combiner reads.
    pub fn write_line(&self, separator: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line);
        if !self.separated {
            out.extend_from_slice(separator);
        }
        out.push(b'\n');
    }

    /// Appends the record in its travelling form (see the module docs).
    pub fn encode(&self, separator: &[u8], out: &mut Vec<u8>) {
        let line_len = self.line.len() + if self.separated { 0 } else { separator.len() };
        put_varint(out, u64::from(self.key_len));
        put_varint(out, line_len as u64);
        out.extend_from_slice(&self.line);
        if !self.separated {
            out.extend_from_slice(separator);
        }
    }

    /// Orders by key bytes only; ties are left to the (stable) sort.
    pub fn cmp_keys(a: &Record, b: &Record) -> Ordering {
        a.key().cmp(b.key())
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Marks a map task's report at the start of its bucket 0 (a key length
/// no record can have): `[varint MARK][varint len][report JSON]`.
const REPORT_MARK: u64 = u64::MAX;

/// Appends a map task's report entry (see [`take_report`]).
pub fn encode_report(report: &[u8], out: &mut Vec<u8>) {
    put_varint(out, REPORT_MARK);
    put_varint(out, report.len() as u64);
    out.extend_from_slice(report);
}

/// If `bytes` starts with a report entry: the report and the bytes after
/// it. `None` when it starts with a record; an error when the entry is cut
/// short (reports are small and written whole, so never split).
pub fn take_report(bytes: &Bytes) -> Result<Option<(Bytes, usize)>, String> {
    let mut at = 0;
    if get_varint(bytes, &mut at) != Some(REPORT_MARK) {
        return Ok(None);
    }
    let len = get_varint(bytes, &mut at).ok_or("report entry cut short")? as usize;
    if at + len > bytes.len() {
        return Err(format!("report entry of {len} bytes cut short"));
    }
    Ok(Some((bytes.slice(at..at + len), at + len)))
}

/// Decodes up to `max` complete records at the start of `bytes` (slices
/// of it); returns how many bytes they took. A record cut short at the end
/// is left for the caller to complete with more bytes.
pub fn decode_records(bytes: &Bytes, max: usize, out: &mut Vec<Record>) -> Result<usize, String> {
    let mut at = 0;
    for _ in 0..max {
        let start = at;
        let (Some(key_len), Some(line_len)) =
            (get_varint(bytes, &mut at), get_varint(bytes, &mut at))
        else {
            return Ok(start);
        };
        let end = at + line_len as usize;
        if end > bytes.len() {
            return Ok(start);
        }
        if key_len > line_len {
            return Err(format!(
                "record at byte {start}: key of {key_len} bytes in a line of {line_len}"
            ));
        }
        out.push(Record {
            line: bytes.slice(at..end),
            key_len: key_len as u32,
            separated: true,
        });
        at = end;
    }
    Ok(at)
}

/// Records in run files (the external sort's spills): their travelling
/// form. Records decoded from a run share one buffer per frame.
#[derive(Debug, Clone)]
pub struct RecordCodec {
    /// The separator added to records without one.
    pub separator: Vec<u8>,
}

impl RunCodec for RecordCodec {
    type Item = Record;

    fn encode(&self, items: &[Record], out: &mut Vec<u8>) {
        for record in items {
            record.encode(&self.separator, out);
        }
    }

    fn decode(&self, bytes: &[u8], count: usize, out: &mut Vec<Record>) -> Result<(), String> {
        let buffer = Bytes::copy_from_slice(bytes);
        let before = out.len();
        let used = decode_records(&buffer, count, out)?;
        if used != buffer.len() || out.len() - before != count {
            return Err(format!(
                "frame of {count} records decoded to {} with {} stray bytes",
                out.len() - before,
                buffer.len() - used
            ));
        }
        Ok(())
    }

    fn heap_size(&self, item: &Record) -> usize {
        // The bytes of the chunk the line keeps alive.
        item.line.len()
    }
}

/// Cuts a program's stdout into lines, each handed over as a slice of the
/// chunk it was read in. A last line without a newline still counts.
pub struct LineReader<R> {
    reader: R,
    buffer: BytesMut,
    chunk: usize,
    done: bool,
}

impl<R: Read> LineReader<R> {
    /// Reads `reader` in chunks of about `chunk` bytes.
    pub fn new(reader: R, chunk: usize) -> Self {
        LineReader {
            reader,
            buffer: BytesMut::new(),
            chunk: chunk.max(4096),
            done: false,
        }
    }

    /// Calls `line` for every line of the next chunk; `Ok(false)` at the
    /// end of the input.
    pub fn next_chunk(
        &mut self,
        mut line: impl FnMut(Bytes) -> Result<(), TaskError>,
    ) -> Result<bool, TaskError> {
        if self.done {
            return Ok(false);
        }
        let complete = loop {
            if self.buffer.capacity() - self.buffer.len() < self.chunk / 4 {
                self.buffer.reserve(self.chunk);
            }
            let len = self.buffer.len();
            let spare = self.buffer.capacity() - len;
            self.buffer.resize(len + spare, 0);
            let n = match self.reader.read(&mut self.buffer[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    self.buffer.truncate(len);
                    return Err(e.into());
                }
            };
            self.buffer.truncate(len + n);
            if n == 0 {
                self.done = true;
                break self.buffer.split().freeze();
            }
            if let Some(last) = memchr::memrchr(b'\n', &self.buffer[len..len + n]) {
                break self.buffer.split_to(len + last + 1).freeze();
            }
        };
        let mut start = 0;
        while start < complete.len() {
            let end =
                memchr::memchr(b'\n', &complete[start..]).map_or(complete.len(), |i| start + i);
            line(complete.slice(start..end))?;
            start = end + 1;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(separator: &str, key_fields: u32) -> KeySpec {
        KeySpec {
            separator: separator.into(),
            key_fields,
        }
    }

    #[test]
    fn keys_end_at_the_nth_separator() {
        let cases = [
            (spec("\t", 1), "a\tb\tc", 1, true),
            (spec("\t", 1), "abc", 3, false),
            (spec("\t", 1), "", 0, false),
            (spec("\t", 1), "\tv", 0, true),
            (spec("\t", 2), "a\tb\tc", 3, true),
            (spec("\t", 2), "a\tb", 3, false),
            (spec("\t", 3), "a\tb", 3, false),
            (spec("::", 1), "ab::cd::e", 2, true),
            (spec("::", 2), "ab::cd::e", 6, true),
            (spec(",", 1), "x,", 1, true),
        ];
        for (spec, line, key_len, separated) in cases {
            assert_eq!(
                spec.cut(line.as_bytes()),
                (key_len, separated),
                "{line:?} with {spec:?}"
            );
        }
    }

    #[test]
    fn records_travel_with_their_key_and_gain_a_separator_when_written() {
        let spec = spec("\t", 2);
        let records: Vec<Record> = ["a\tb\tc", "a", "x\ty", ""]
            .iter()
            .map(|l| spec.record(Bytes::from(l.to_string())))
            .collect();
        let mut lines = Vec::new();
        let mut wire = Vec::new();
        for r in &records {
            r.write_line(b"\t", &mut lines);
            r.encode(b"\t", &mut wire);
        }
        assert_eq!(lines, b"a\tb\tc\na\t\nx\ty\t\n\t\n");
        // A cut-short record stays for later.
        let wire = Bytes::from(wire);
        let mut decoded = Vec::new();
        let used = decode_records(&wire.slice(..wire.len() - 1), 100, &mut decoded).unwrap();
        assert_eq!(decoded.len(), 3);
        decoded.clear();
        assert!(decode_records(&wire, 2, &mut decoded).unwrap() < wire.len());
        assert_eq!(decoded.len(), 2);
        decoded.clear();
        assert_eq!(
            decode_records(&wire, 100, &mut decoded).unwrap(),
            wire.len()
        );
        assert!(used < wire.len());
        let keys: Vec<&[u8]> = decoded.iter().map(Record::key).collect();
        assert_eq!(keys, [&b"a\tb"[..], b"a", b"x\ty", b""]);
        let mut again = Vec::new();
        for r in &decoded {
            r.write_line(b"\t", &mut again);
        }
        assert_eq!(again, lines);
    }

    #[test]
    fn lines_come_whole_from_any_chunking() {
        let text = b"one\ntwo\n\nthree has more words\nno newline".repeat(50);
        for chunk in [1, 7, 4096, 1 << 20] {
            let mut reader = LineReader::new(&text[..], chunk);
            let mut lines = Vec::new();
            while reader
                .next_chunk(|l| {
                    lines.push(l);
                    Ok(())
                })
                .unwrap()
            {}
            let joined: Vec<u8> = lines.join(&b'\n');
            assert_eq!(joined, text, "chunk {chunk}");
        }
    }
}
