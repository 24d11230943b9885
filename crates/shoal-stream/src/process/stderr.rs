//! A program's stderr: Hadoop Streaming's reporter lines, and a bounded
//! log of the rest.
//!
//! `reporter:counter:GROUP,COUNTER,AMOUNT` adds AMOUNT to a counter and
//! `reporter:status:MESSAGE` sets the task's status line (Hadoop's
//! format; names cannot contain commas). Every other line goes to the
//! log, which keeps at most [`LOG_BYTES`] and always the last
//! [`TAIL_LINES`] lines — what a failed attempt's error shows.

use std::collections::VecDeque;
use std::io::Read;

use crate::Counters;

/// Lines of stderr a failed attempt's error shows.
pub const TAIL_LINES: usize = 20;
/// Bytes of stderr (other than reporter lines) kept per attempt.
pub const LOG_BYTES: usize = 64 << 10;
/// Longest line kept whole in the tail; longer ones are cut.
const LINE_CHARS: usize = 1000;

/// What a program said on stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StderrReport {
    /// Counters from `reporter:counter:` lines.
    pub counters: Counters,
    /// The last `reporter:status:` message.
    pub status: Option<String>,
    /// The first [`LOG_BYTES`] of the other lines.
    pub log: Vec<u8>,
    /// The last [`TAIL_LINES`] other lines (each cut at 1000 characters).
    pub tail: VecDeque<String>,
    /// Other lines seen in all, kept or not.
    pub lines: u64,
}

impl StderrReport {
    /// Takes one line (without its newline).
    pub fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"reporter:counter:") {
            if let Some((group, counter, amount)) = parse_counter(rest) {
                self.counters.add(group, counter, amount);
                return;
            }
        } else if let Some(rest) = line.strip_prefix(b"reporter:status:") {
            self.status = Some(String::from_utf8_lossy(rest).into_owned());
            return;
        }
        self.lines += 1;
        if self.log.len() + line.len() < LOG_BYTES {
            self.log.extend_from_slice(line);
            self.log.push(b'\n');
        }
        let mut text = String::from_utf8_lossy(line).into_owned();
        if let Some((cut, _)) = text.char_indices().nth(LINE_CHARS) {
            text.truncate(cut);
            text.push('…');
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(text);
    }

    /// Reads `stderr` to its end, line by line. A read error ends it (the
    /// program's exit status says what happened).
    pub fn read_from(&mut self, mut stderr: impl Read) {
        let mut buf = vec![0u8; 64 << 10];
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let n = match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(end) = memchr::memchr(b'\n', &pending[start..]) {
                self.line(&pending[start..start + end]);
                start += end + 1;
            }
            pending.drain(..start);
            // A line with no end in sight: keep its head, drop the rest.
            if pending.len() > 2 * LOG_BYTES {
                pending.truncate(LOG_BYTES);
            }
        }
        if !pending.is_empty() {
            self.line(&pending);
        }
    }

    /// The tail as an indented block for error messages, or a note that
    /// stderr was empty.
    pub fn tail_text(&self) -> String {
        if self.tail.is_empty() {
            return "stderr was empty".to_string();
        }
        let skipped = self.lines.saturating_sub(self.tail.len() as u64);
        let mut text = if skipped > 0 {
            format!("last {} of {} stderr lines:", self.tail.len(), self.lines)
        } else {
            "stderr:".to_string()
        };
        for line in &self.tail {
            text.push_str("\n  | ");
            text.push_str(line);
        }
        text
    }
}

fn parse_counter(rest: &[u8]) -> Option<(String, String, i64)> {
    let text = std::str::from_utf8(rest).ok()?;
    let mut parts = text.split(',');
    let (group, counter, amount) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || group.is_empty() || counter.is_empty() {
        return None;
    }
    Some((
        group.to_string(),
        counter.to_string(),
        amount.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_lines_update_counters_and_status_and_the_rest_is_logged() {
        let mut report = StderrReport::default();
        report.read_from(
            &b"reporter:counter:words,seen,3\nhello\nreporter:status:half way\r\n\
               reporter:counter:words,seen,4\nreporter:counter:bad,line\nlast"[..],
        );
        assert_eq!(report.counters.get("words", "seen"), 7);
        assert_eq!(report.status.as_deref(), Some("half way"));
        assert_eq!(report.tail, ["hello", "reporter:counter:bad,line", "last"]);
        assert_eq!(report.lines, 3);
        assert_eq!(
            report.tail_text(),
            "stderr:\n  | hello\n  | reporter:counter:bad,line\n  | last"
        );
    }

    #[test]
    fn only_the_last_lines_and_a_bounded_log_are_kept() {
        let mut report = StderrReport::default();
        let text: String = (0..5000).map(|i| format!("line {i:030}\n")).collect();
        report.read_from(text.as_bytes());
        assert_eq!(report.lines, 5000);
        assert_eq!(report.tail.len(), TAIL_LINES);
        assert_eq!(report.tail.back().unwrap(), &format!("line {:030}", 4999));
        assert!(report.log.len() <= LOG_BYTES);
        assert!(report
            .tail_text()
            .starts_with("last 20 of 5000 stderr lines:"));
        let long = "x".repeat(5000);
        report.line(long.as_bytes());
        assert_eq!(report.tail.back().unwrap().chars().count(), LINE_CHARS + 1);
    }
}
