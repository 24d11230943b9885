//! Finding split boundaries in uncompressed text files.
//!
//! A boundary must be a true record start and must know its physical line
//! number, so the planner streams the file once, counting newlines (and,
//! for CSV, the parity of `"` characters: a newline ends a record only at
//! even parity, RFC 4180's `""` escape keeps parity). Scanning stops at the
//! last cut: the final split's line count is never needed.

use std::io::Read;
use std::path::Path;

use memchr::{memchr, memchr2, memchr_iter};

use crate::error::InputError;
use crate::source::Source;

/// Bytes read per scan step.
const BLOCK: usize = 4 << 20;

/// Where a split starts: byte offset and the physical line there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) offset: u64,
    pub(crate) line: u64,
}

/// State of the scan between blocks.
struct Scanner {
    line: u64,
    in_quotes: bool,
    quotes: bool,
    seeking: bool,
    goal: u64,
    target: u64,
    end: u64,
    cuts: Vec<Cut>,
}

/// Split starts for bytes `[start, end)` of `source` (the first is `start`
/// itself), about every `target` bytes. `quotes` enables CSV quote parity.
pub(crate) fn scan_cuts(
    source: &Source,
    start: Cut,
    end: u64,
    target: u64,
    quotes: bool,
) -> Result<Vec<Cut>, InputError> {
    let target = target.max(1);
    let mut scan = Scanner {
        line: start.line,
        in_quotes: false,
        quotes,
        seeking: false,
        goal: start.offset.saturating_add(target),
        target,
        end,
        cuts: vec![start],
    };
    if scan.done() {
        return Ok(scan.cuts);
    }
    let path = source.path();
    let mut file = source.open_range(start.offset, end)?;
    let mut buf = vec![0u8; BLOCK];
    let mut base = start.offset;
    while base < end && !scan.done() {
        let want = (end - base).min(BLOCK as u64) as usize;
        let n = read_full(&mut *file, &mut buf[..want], path)?;
        if n == 0 {
            break;
        }
        scan.block(&buf[..n], base);
        base += n as u64;
    }
    Ok(scan.cuts)
}

fn read_full(file: &mut dyn Read, buf: &mut [u8], path: &Path) -> Result<usize, InputError> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InputError::io(path, e)),
        }
    }
    Ok(filled)
}

impl Scanner {
    /// No further cut is worth making: the rest fits in one split (a
    /// remainder under a quarter of the target joins the previous split).
    fn done(&self) -> bool {
        self.goal.saturating_add(self.target / 4) >= self.end
    }

    fn block(&mut self, b: &[u8], base: u64) {
        let mut i = 0usize;
        while i < b.len() && !self.done() {
            if !self.seeking {
                let goal = (self.goal - base) as usize;
                if goal >= b.len() {
                    self.bulk(&b[i..]);
                    return;
                }
                self.bulk(&b[i..goal]);
                i = goal;
                self.seeking = true;
            } else {
                i = self.seek(b, i, base);
            }
        }
    }

    /// Counts lines and quote parity over a stretch without cuts.
    fn bulk(&mut self, s: &[u8]) {
        self.line += s.iter().filter(|&&c| c == b'\n').count() as u64;
        if self.quotes && memchr(b'"', s).is_some() {
            self.in_quotes ^= memchr_iter(b'"', s).count() % 2 == 1;
        }
    }

    /// Looks for the first record end at or after `i`; returns where to
    /// continue.
    fn seek(&mut self, b: &[u8], mut i: usize, base: u64) -> usize {
        loop {
            let hit = if self.quotes {
                memchr2(b'"', b'\n', &b[i..])
            } else {
                memchr(b'\n', &b[i..])
            };
            let Some(k) = hit else {
                return b.len();
            };
            let j = i + k;
            i = j + 1;
            if b[j] == b'"' {
                self.in_quotes = !self.in_quotes;
                continue;
            }
            self.line += 1;
            if !self.in_quotes {
                let offset = base + i as u64;
                if offset < self.end {
                    self.cuts.push(Cut {
                        offset,
                        line: self.line,
                    });
                }
                self.goal = offset.saturating_add(self.target);
                self.seeking = false;
                return i;
            }
        }
    }
}
