//! CSV records (RFC 4180) into events.
//!
//! Fast path: a record with no `"` is one line; fields are cut at commas
//! found with memchr and borrowed from the chunk, already validated as
//! UTF-8 in one pass per chunk. Slow path (only records holding a quote):
//! the record extends to the first newline at even quote parity — the same
//! rule the planner uses to place split boundaries — and fields are
//! unescaped into reused scratch strings.

use std::path::Path;

use memchr::{memchr, memchr2, memchr_iter};

use crate::collect::Collector;
use crate::error::InputError;
use crate::options::ColumnMap;
use crate::text::{ChunkParser, Utf8Cursor};

/// Marks a column no role reads.
const NONE: u8 = u8::MAX;

/// Where each role sits in a file's columns.
#[derive(Clone, Debug)]
pub(crate) struct CsvLayout {
    /// Role (0 user_id, 1 ts, 2 event, 3 item) of each column, or [`NONE`].
    roles: Vec<u8>,
}

impl CsvLayout {
    /// Maps the roles onto `header`; a missing required column is an error
    /// listing the columns found.
    pub(crate) fn resolve(
        header: &[String],
        columns: &ColumnMap,
        path: &Path,
    ) -> Result<Self, InputError> {
        let mut roles = vec![NONE; header.len()];
        let wanted = [
            ("user_id", columns.user_id(), true),
            ("ts", columns.ts(), true),
            ("event", columns.event(), true),
            ("item", columns.item(), columns.item_required()),
        ];
        for (role, (name, column, required)) in wanted.into_iter().enumerate() {
            match header.iter().position(|h| h == column) {
                Some(i) => roles[i] = role as u8,
                None if required => {
                    return Err(InputError::MissingColumn {
                        path: path.to_path_buf(),
                        role: name,
                        column: column.to_string(),
                        found: header.to_vec(),
                    })
                }
                None => {}
            }
        }
        Ok(CsvLayout { roles })
    }
}

/// Reads the header record at the front of `data` (a leading UTF-8 BOM is
/// skipped). Returns the trimmed column names, the bytes consumed and the
/// physical lines spanned, or `None` when more data is needed.
pub(crate) fn parse_header(
    data: &[u8],
    eof: bool,
    path: &Path,
) -> Result<Option<(Vec<String>, usize, u64)>, InputError> {
    let bom = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    if data.len() == bom && eof {
        return Ok(Some((Vec::new(), data.len(), 0)));
    }
    let Some((end, next, inner)) = record_end(data, bom, eof) else {
        return Ok(None);
    };
    let corrupt = |reason: &str| InputError::Corrupt {
        path: path.to_path_buf(),
        format: "CSV",
        reason: format!("header: {reason}"),
    };
    let text = std::str::from_utf8(&data[bom..end]).map_err(|_| corrupt("invalid UTF-8"))?;
    let mut fields = Vec::new();
    let n = split_quoted(text, &mut fields).map_err(corrupt)?;
    fields.truncate(n);
    let names = fields.into_iter().map(|f| f.trim().to_string()).collect();
    Ok(Some((names, next, inner + 1)))
}

/// Parses data records (no header) into a [`Collector`].
pub(crate) struct CsvParser<'c, 's> {
    layout: CsvLayout,
    /// Physical line of the next record.
    line: u64,
    out: &'c mut Collector<'s>,
    scratch: Vec<String>,
}

impl<'c, 's> CsvParser<'c, 's> {
    pub(crate) fn new(layout: CsvLayout, first_line: u64, out: &'c mut Collector<'s>) -> Self {
        CsvParser {
            layout,
            line: first_line,
            out,
            scratch: Vec::new(),
        }
    }

    /// A record without quotes: `data[start..line_end]`.
    #[inline]
    fn simple(
        &mut self,
        utf8: &mut Utf8Cursor<'_>,
        data: &[u8],
        start: usize,
        line_end: usize,
    ) -> Result<(), InputError> {
        let mut end = line_end;
        if end > start && data[end - 1] == b'\r' {
            end -= 1;
        }
        if end == start {
            return Ok(()); // blank line
        }
        let Some(text) = utf8.get(start, end) else {
            return self.out.reject(self.line, "invalid UTF-8".to_string());
        };
        let mut got = [""; 4];
        let mut idx = 0usize;
        let mut from = 0usize;
        let roles = &self.layout.roles;
        for comma in memchr_iter(b',', text.as_bytes()) {
            if let Some(&role) = roles.get(idx) {
                if role != NONE {
                    got[role as usize] = text.get(from..comma).unwrap_or("");
                }
            }
            idx += 1;
            from = comma + 1;
        }
        if idx + 1 != roles.len() {
            return self.wrong_count(idx + 1);
        }
        let role = roles[idx];
        if role != NONE {
            got[role as usize] = text.get(from..).unwrap_or("");
        }
        self.out.row(self.line, got[0], got[1], got[2], got[3])
    }

    /// A record holding quotes: `data[start..end]`, without its newline.
    fn quoted(
        &mut self,
        utf8: &mut Utf8Cursor<'_>,
        start: usize,
        end: usize,
    ) -> Result<(), InputError> {
        let Some(text) = utf8.get(start, end) else {
            return self.out.reject(self.line, "invalid UTF-8".to_string());
        };
        let n = match split_quoted(text, &mut self.scratch) {
            Ok(n) => n,
            Err(reason) => return self.out.reject(self.line, reason.to_string()),
        };
        if n != self.layout.roles.len() {
            return self.wrong_count(n);
        }
        let mut got = [""; 4];
        for (field, &role) in self.scratch.iter().zip(&self.layout.roles) {
            if role != NONE {
                got[role as usize] = field.as_str();
            }
        }
        self.out.row(self.line, got[0], got[1], got[2], got[3])
    }

    fn wrong_count(&mut self, found: usize) -> Result<(), InputError> {
        let reason = format!(
            "wrong field count: expected {}, found {found}",
            self.layout.roles.len()
        );
        self.out.reject(self.line, reason)
    }
}

impl ChunkParser for CsvParser<'_, '_> {
    fn parse(&mut self, data: &[u8], eof: bool) -> Result<usize, InputError> {
        let len = data.len();
        let mut utf8 = Utf8Cursor::new(data);
        let mut next_quote = memchr(b'"', data).unwrap_or(len);
        let mut pos = 0usize;
        while pos < len {
            let newline = memchr(b'\n', &data[pos..]).map(|i| pos + i);
            let line_end = match newline {
                Some(i) => i,
                None if eof => len,
                None => break,
            };
            if next_quote < pos {
                next_quote = memchr(b'"', &data[pos..]).map_or(len, |i| pos + i);
            }
            if next_quote >= line_end {
                self.simple(&mut utf8, data, pos, line_end)?;
                self.line += 1;
                pos = newline.map_or(len, |i| i + 1);
                continue;
            }
            let Some((end, next, inner)) = record_end(data, pos, eof) else {
                break;
            };
            self.quoted(&mut utf8, pos, end)?;
            self.line += 1 + inner;
            pos = next;
        }
        Ok(pos)
    }
}

/// The record starting at `start`: ends at the first newline outside
/// quotes. Returns (end without the newline, start of the next record,
/// newlines inside the record), or `None` when `data` ends first and more
/// may come.
pub(crate) fn record_end(data: &[u8], start: usize, eof: bool) -> Option<(usize, usize, u64)> {
    let mut in_quotes = false;
    let mut inner = 0u64;
    let mut i = start;
    while let Some(k) = memchr2(b'"', b'\n', &data[i..]) {
        let j = i + k;
        if data[j] == b'"' {
            in_quotes = !in_quotes;
        } else if in_quotes {
            inner += 1;
        } else {
            return Some((j, j + 1, inner));
        }
        i = j + 1;
    }
    eof.then_some((data.len(), data.len(), inner))
}

/// Splits one record's text into unescaped fields stored in `fields`
/// (reused between calls); returns the field count.
pub(crate) fn split_quoted(text: &str, fields: &mut Vec<String>) -> Result<usize, &'static str> {
    let b = text.as_bytes();
    let mut i = 0usize;
    let mut n = 0usize;
    loop {
        if fields.len() <= n {
            fields.push(String::new());
        }
        let field = &mut fields[n];
        field.clear();
        n += 1;
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let q = memchr(b'"', &b[i..]).ok_or("unterminated quoted field")? + i;
                field.push_str(&text[i..q]);
                if b.get(q + 1) == Some(&b'"') {
                    field.push('"');
                    i = q + 2;
                } else {
                    i = q + 1;
                    break;
                }
            }
            match b.get(i) {
                None => return Ok(n),
                Some(b'\r') if i + 1 == b.len() => return Ok(n),
                Some(b',') => i += 1,
                Some(_) => return Err("malformed quoted field: text after closing quote"),
            }
        } else {
            let end = memchr(b',', &b[i..]).map_or(b.len(), |k| i + k);
            let mut value = &text[i..end];
            if value.contains('"') {
                return Err("malformed field: quote inside unquoted field");
            }
            if end == b.len() {
                value = value.strip_suffix('\r').unwrap_or(value);
                field.push_str(value);
                return Ok(n);
            }
            field.push_str(value);
            i = end + 1;
        }
    }
}
