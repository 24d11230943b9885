//! JSON Lines records into events.
//!
//! Fast path: a hand-rolled scanner for flat objects whose keys and string
//! values hold no escapes, borrowing values from the chunk. Anything else
//! (escapes, nested values, odd spacing that the scanner gives up on) goes
//! through serde_json, which also produces the error text for bad lines.

use memchr::memchr;
use serde_json::{Map, Value};

use crate::collect::{excerpt, Collector};
use crate::error::InputError;
use crate::options::ColumnMap;
use crate::text::{ChunkParser, Utf8Cursor};
use crate::ts::parse_int;

/// A scalar as found by the fast scanner.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Missing,
    Null,
    Str(&'a str),
    Num(&'a str),
    Bool,
}

/// Parses JSON Lines into a [`Collector`].
pub(crate) struct JsonlParser<'c, 's> {
    keys: [String; 4],
    line: u64,
    out: &'c mut Collector<'s>,
}

impl<'c, 's> JsonlParser<'c, 's> {
    pub(crate) fn new(columns: &ColumnMap, first_line: u64, out: &'c mut Collector<'s>) -> Self {
        let keys = [
            columns.user_id().to_string(),
            columns.ts().to_string(),
            columns.event().to_string(),
            columns.item().to_string(),
        ];
        JsonlParser {
            keys,
            line: first_line,
            out,
        }
    }

    fn record(&mut self, text: &str) -> Result<(), InputError> {
        let trimmed = text.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        match scan_flat(trimmed, &self.keys) {
            Some(vals) => self.roles(vals),
            None => self.fallback(trimmed),
        }
    }

    fn fallback(&mut self, text: &str) -> Result<(), InputError> {
        let map: Map<String, Value> = match serde_json::from_str(text) {
            Ok(map) => map,
            Err(e) => {
                return self
                    .out
                    .reject(self.line, format!("invalid JSON object: {e}"))
            }
        };
        let found = self.keys.clone().map(|key| map.get(&key).cloned());
        let numbers = found.clone().map(|v| match v {
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        });
        let mut vals = [Raw::Missing; 4];
        for (role, value) in found.iter().enumerate() {
            vals[role] = match value {
                None => Raw::Missing,
                Some(Value::Null) => Raw::Null,
                Some(Value::String(s)) => Raw::Str(s.as_str()),
                Some(Value::Number(_)) => Raw::Num(numbers[role].as_str()),
                Some(_) => Raw::Bool,
            };
        }
        self.roles(vals)
    }

    /// Checks the role values of one object and hands the row on.
    fn roles(&mut self, vals: [Raw<'_>; 4]) -> Result<(), InputError> {
        let line = self.line;
        for (role, name) in [(0, "user_id"), (1, "ts"), (2, "event")] {
            if matches!(vals[role], Raw::Missing) {
                let key = excerpt(&self.keys[role]);
                return self
                    .out
                    .reject(line, format!("missing key `{key}` ({name})"));
            }
        }
        let user = match vals[0] {
            Raw::Str(s) | Raw::Num(s) => s,
            Raw::Null | Raw::Missing => "",
            Raw::Bool => {
                return self
                    .out
                    .reject(line, "user_id is not a string or number".into())
            }
        };
        let event = match vals[2] {
            Raw::Str(s) | Raw::Num(s) => s,
            Raw::Null | Raw::Missing => "",
            Raw::Bool => return self.out.reject(line, "event is not a string".into()),
        };
        let item = match vals[3] {
            Raw::Str(s) | Raw::Num(s) => s,
            _ => "",
        };
        match vals[1] {
            Raw::Str(s) => self.out.row(line, user, s, event, item),
            Raw::Num(n) => match parse_int(n.as_bytes()).and_then(|v| self.out.unit.to_ms(v)) {
                Some(ts_ms) if !user.is_empty() => {
                    self.out.accept(&crate::Event {
                        user_id: user,
                        ts_ms,
                        event,
                        item,
                    });
                    Ok(())
                }
                Some(_) => self.out.reject(line, "empty user_id".into()),
                None => self
                    .out
                    .reject(line, format!("unparsable ts `{}`", excerpt(n))),
            },
            _ => self
                .out
                .reject(line, "unparsable ts (not a string or number)".into()),
        }
    }
}

impl ChunkParser for JsonlParser<'_, '_> {
    fn parse(&mut self, data: &[u8], eof: bool) -> Result<usize, InputError> {
        let len = data.len();
        let mut utf8 = Utf8Cursor::new(data);
        let mut pos = 0usize;
        while pos < len {
            let newline = memchr(b'\n', &data[pos..]).map(|i| pos + i);
            let end = match newline {
                Some(i) => i,
                None if eof => len,
                None => break,
            };
            match utf8.get(pos, end) {
                Some(text) => self.record(text)?,
                None => self.out.reject(self.line, "invalid UTF-8".to_string())?,
            }
            self.line += 1;
            pos = newline.map_or(len, |i| i + 1);
        }
        Ok(pos)
    }
}

/// Scans a flat object without escapes, picking the values of `keys`.
/// `None` means "not simple": let serde_json decide.
fn scan_flat<'a>(text: &'a str, keys: &[String; 4]) -> Option<[Raw<'a>; 4]> {
    let b = text.as_bytes();
    let mut vals = [Raw::Missing; 4];
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(vals);
    }
    loop {
        let (key, after) = string_at(text, i)?;
        i = skip_ws(b, after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (value, after) = value_at(text, i)?;
        if let Some(role) = keys.iter().position(|k| k == key) {
            vals[role] = value;
        }
        i = skip_ws(b, after);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return (skip_ws(b, i + 1) == b.len()).then_some(vals),
            _ => return None,
        }
    }
}

/// A string without escapes or control characters starting at `b[i]`.
#[inline]
fn string_at(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let close = memchr(b'"', &b[i + 1..])? + i + 1;
    let inner = &b[i + 1..close];
    if inner.iter().any(|&c| c == b'\\' || c < 0x20) {
        return None;
    }
    Some((text.get(i + 1..close)?, close + 1))
}

#[inline]
fn value_at(text: &str, i: usize) -> Option<(Raw<'_>, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'"' => string_at(text, i).map(|(s, next)| (Raw::Str(s), next)),
        b'-' | b'0'..=b'9' => {
            let end = number_end(b, i)?;
            Some((Raw::Num(text.get(i..end)?), end))
        }
        b't' if b[i..].starts_with(b"true") => Some((Raw::Bool, i + 4)),
        b'f' if b[i..].starts_with(b"false") => Some((Raw::Bool, i + 5)),
        b'n' if b[i..].starts_with(b"null") => Some((Raw::Null, i + 4)),
        _ => None,
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// End of a JSON number starting at `b[i]` (strict grammar), `None` when
/// malformed.
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}
