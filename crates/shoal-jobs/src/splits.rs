//! Byte-range splits of line-oriented text files.
//!
//! A split `[start, end)` owns every line whose first byte lies in that
//! range, so neighbouring splits never share or lose a line whatever the
//! boundaries — the same rule Hadoop's line reader uses.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A byte range of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSplit {
    /// The file.
    pub path: String,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
}

/// Why inputs could not be split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// An input path cannot be read.
    #[error("cannot read input '{path}': {source}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Expands `inputs` (files, or directories whose files are taken in sorted
/// order) and cuts every file into splits of about `target_bytes`.
pub fn plan_line_splits(
    inputs: &[String],
    target_bytes: u64,
) -> Result<Vec<LineSplit>, SplitError> {
    let target = target_bytes.max(1);
    let mut splits = Vec::new();
    for input in inputs {
        for file in expand(Path::new(input)).map_err(|source| SplitError::Unreadable {
            path: input.clone(),
            source,
        })? {
            let size = std::fs::metadata(&file)
                .map_err(|source| SplitError::Unreadable {
                    path: file.display().to_string(),
                    source,
                })?
                .len();
            let mut start = 0;
            while start < size {
                let end = (start + target).min(size);
                splits.push(LineSplit {
                    path: file.display().to_string(),
                    start,
                    end,
                });
                start = end;
            }
        }
    }
    Ok(splits)
}

fn expand(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        files.extend(expand(&entry)?);
    }
    Ok(files)
}

/// Calls `line` for every line the split owns (without its `\n` or
/// `\r\n`); returns the bytes read.
pub fn read_line_split(split: &LineSplit, mut line: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut file = File::open(&split.path)?;
    let mut pos = split.start;
    let mut reader;
    let mut buf = Vec::with_capacity(256);
    if split.start > 0 {
        // The line that started before us is the previous split's: skip
        // through the first newline at or after start - 1.
        file.seek(SeekFrom::Start(split.start - 1))?;
        reader = BufReader::with_capacity(1 << 20, file);
        pos = split.start - 1 + reader.read_until(b'\n', &mut buf)? as u64;
    } else {
        reader = BufReader::with_capacity(1 << 20, file);
    }
    let mut read = 0;
    while pos < split.end {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        read += n as u64;
        let mut text = &buf[..];
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        line(text);
    }
    Ok(read)
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
        assert!(
            err.to_string()
                .starts_with("cannot read input '/no/such/file'"),
            "{err}"
        );
    }
}
