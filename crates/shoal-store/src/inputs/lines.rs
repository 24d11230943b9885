//! Byte-range splits of line-oriented text files, local or in a store.
//!
//! A split `[start, end)` owns every line whose first byte lies in that
//! range, so neighbouring splits never share or lose a line whatever the
//! boundaries — the same rule Hadoop's line reader uses. Inputs expand and
//! read like every other input ([`expand_inputs`], [`InputFile`]), so
//! `s3://bucket/logs/` works wherever a local directory does (a remote
//! split fetches its own bytes and the end of the line that straddles its
//! end). A compressed file (`.gz`, `.zst`) cannot be entered in the
//! middle: it is one split, read decompressed. Wordcount, `shoal map` and
//! DistArray's text and CSV sources read through these.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{expand_inputs, Compression, InputFile, InputsError};
use serde::{Deserialize, Serialize};

/// A byte range of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSplit {
    /// The file: a path, or an object's URL.
    pub path: String,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
}

/// Expands `inputs` (files, directories, globs and store URLs, see
/// [`expand_inputs`]) and cuts every file into splits of about
/// `target_bytes`; a compressed file is one split.
pub fn plan_line_splits(
    inputs: &[String],
    target_bytes: u64,
) -> Result<Vec<LineSplit>, InputsError> {
    let target = target_bytes.max(1);
    let mut splits = Vec::new();
    for file in expand_inputs(inputs)? {
        let size = InputFile::of(&file)?.size()?;
        let path = file.display().to_string();
        let step = match Compression::of(&file).is_compressed() {
            true => size.max(1),
            false => target,
        };
        let mut start = 0;
        while start < size {
            let end = (start + step).min(size);
            splits.push(LineSplit {
                path: path.clone(),
                start,
                end,
            });
            start = end;
        }
    }
    Ok(splits)
}

/// Calls `line` for every line the split owns (without its `\n` or
/// `\r\n`); returns the bytes read.
pub fn read_line_split(split: &LineSplit, mut line: impl FnMut(&[u8])) -> Result<u64, InputsError> {
    let io = |e| InputsError::io(&split.path, e);
    let mut reader = BufReader::with_capacity(1 << 20, open_owned(split)?);
    let mut buf = Vec::with_capacity(256);
    let mut read = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            return Ok(read);
        }
        read += n as u64;
        let mut text = &buf[..];
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        line(text);
    }
}

/// A reader of exactly the bytes of the lines the split owns, newlines
/// included (decompressed for a compressed file), for consumers that pass
/// text on whole.
pub fn open_line_split(split: &LineSplit) -> Result<Box<dyn Read>, InputsError> {
    Ok(Box::new(open_owned(split)?))
}

/// The owned lines of `split` as a reader.
fn open_owned(split: &LineSplit) -> Result<OwnedLines, InputsError> {
    let file = InputFile::of(Path::new(&split.path))?;
    if Compression::of(file.path()).is_compressed() {
        // One split per compressed file: the first owns it all.
        let inner: Box<dyn Read> = match split.start {
            0 => file.open_decoded()?,
            _ => Box::new(std::io::empty()),
        };
        return Ok(OwnedLines::whole(inner));
    }
    let io = |e| InputsError::io(&split.path, e);
    // The line that started before us is the previous split's: start one
    // byte early and skip through the first newline at or after start - 1.
    let from = split.start.saturating_sub(1);
    let mut reader = BufReader::with_capacity(1 << 20, file.open_range(from, file.size()?)?);
    let mut pos = split.start;
    if split.start > 0 {
        let mut skipped = Vec::new();
        pos = from + reader.read_until(b'\n', &mut skipped).map_err(io)? as u64;
    }
    Ok(OwnedLines {
        reader: Box::new(reader),
        left_before_end: split.end.saturating_sub(pos),
        finishing_line: false,
        done: pos >= split.end,
    })
}

/// Reads up to the split's end, then through the end of the line that
/// straddles it.
struct OwnedLines {
    reader: Box<dyn Read>,
    /// Bytes until the split's end offset.
    left_before_end: u64,
    /// Past the end offset, reading the rest of the last line.
    finishing_line: bool,
    done: bool,
}

impl OwnedLines {
    fn whole(reader: Box<dyn Read>) -> Self {
        OwnedLines {
            reader,
            left_before_end: u64::MAX,
            finishing_line: false,
            done: false,
        }
    }
}

impl Read for OwnedLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if !self.finishing_line {
            let want = buf
                .len()
                .min(self.left_before_end.try_into().unwrap_or(usize::MAX));
            let n = self.reader.read(&mut buf[..want])?;
            if n == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left_before_end -= n as u64;
            if self.left_before_end == 0 {
                // The last byte before the end closes a line: nothing more
                // is ours. Otherwise the line goes on into the next split.
                self.finishing_line = buf[n - 1] != b'\n';
                self.done = !self.finishing_line;
            }
            return Ok(n);
        }
        let n = self.reader.read(buf)?;
        if n == 0 {
            self.done = true;
            return Ok(0);
        }
        match memchr_newline(&buf[..n]) {
            Some(at) => {
                self.done = true;
                Ok(at + 1)
            }
            None => Ok(n),
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_read_exactly_once_for_any_split_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = "alpha\nbe\n\ngamma delta\r\nlast line no newline";
        std::fs::write(&path, text).unwrap();
        let expected: Vec<String> = vec!["alpha", "be", "", "gamma delta", "last line no newline"]
            .into_iter()
            .map(String::from)
            .collect();
        for target in 1..=text.len() as u64 + 1 {
            let splits = plan_line_splits(&[path.display().to_string()], target).unwrap();
            let mut lines = Vec::new();
            for split in &splits {
                read_line_split(split, |l| {
                    lines.push(String::from_utf8_lossy(l).into_owned())
                })
                .unwrap();
            }
            assert_eq!(lines, expected, "target {target}");
        }
    }

    #[test]
    fn split_readers_pass_exactly_the_owned_bytes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = "alpha\nbe\n\ngamma delta\r\nlast line no newline";
        std::fs::write(&path, text).unwrap();
        for target in 1..=text.len() as u64 + 1 {
            let mut all = String::new();
            for split in plan_line_splits(&[path.display().to_string()], target).unwrap() {
                open_line_split(&split)
                    .unwrap()
                    .read_to_string(&mut all)
                    .unwrap();
            }
            assert_eq!(all, text, "target {target}");
        }
    }

    #[test]
    fn a_compressed_file_is_one_split_read_decompressed() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text = "one\ntwo\nthree\n".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.path().join("a.txt.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(
            dir.path().join("b.txt.zst"),
            zstd::encode_all(text.as_bytes(), 1).unwrap(),
        )
        .unwrap();
        let splits = plan_line_splits(&[dir.path().display().to_string()], 10).unwrap();
        assert_eq!(splits.len(), 2, "{splits:?}");
        for split in &splits {
            let mut lines = 0;
            read_line_split(split, |_| lines += 1).unwrap();
            assert_eq!(lines, 3000, "{}", split.path);
            let mut all = String::new();
            open_line_split(split)
                .unwrap()
                .read_to_string(&mut all)
                .unwrap();
            assert_eq!(all, text);
        }
    }

    #[test]
    fn store_objects_split_like_local_files() {
        // Split boundaries inside lines: a remote split must fetch the end
        // of the line that straddles its end, and skip the one it starts in.
        let text = "first line\nsecond\r\n\nthe fourth, longer line\nno newline at the end";
        let url = format!("memory://splits-{}", std::process::id());
        let store = crate::Store::open(&url).unwrap();
        store
            .put("logs/a.txt", bytes::Bytes::from_static(text.as_bytes()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), text).unwrap();
        let lines = |input: String, target: u64| {
            let mut lines = Vec::new();
            for split in plan_line_splits(&[input], target).unwrap() {
                read_line_split(&split, |l| {
                    lines.push(String::from_utf8_lossy(l).into_owned())
                })
                .unwrap();
            }
            lines
        };
        for target in [1, 3, 7, 11, 64] {
            let local = lines(dir.path().display().to_string(), target);
            assert_eq!(local.len(), 5, "{local:?}");
            assert_eq!(
                lines(format!("{url}/logs/"), target),
                local,
                "target {target}"
            );
        }
    }

    #[test]
    fn directories_expand_sorted_and_missing_inputs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "b\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        let splits = plan_line_splits(&[dir.path().display().to_string()], 1 << 20).unwrap();
        let names: Vec<_> = splits
            .iter()
            .map(|s| s.path.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        let err = plan_line_splits(&["/no/such/file".into()], 10).unwrap_err();
        assert_eq!(err.to_string(), "/no/such/file: no such file or directory");
    }
}
