//! Input files named by users: the arguments of `shoal analyze`,
//! `shoal wordcount` and array sources, expanded into files and read from
//! wherever they are — a local path or shared mount, or an object in a
//! store (`s3://bucket/key`, `gs://…`, `hdfs://…`, `memory://…`).
//!
//! Directories and prefixes expand to their files (recursive, sorted,
//! skipping `.`/`_`-prefixed names such as `_SUCCESS`), globs to their
//! matches; remote reads are ranged requests, so a split of a large object
//! fetches only its bytes (and the line that straddles its end).
//! Compressed files (`.gz`, `.zst`) are read through one decoder for every
//! reader ([`Compression`], [`InputFile::open_decoded`]).
//! [`plan_line_splits`] cuts text inputs into byte-range splits of whole
//! lines and [`read_line_split`] reads one; with feature `parquet`,
//! [`parquet`] opens Parquet inputs footer-first and reads projected row
//! groups.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

mod lines;
#[cfg(feature = "parquet")]
pub mod parquet;
pub use lines::{open_line_split, plan_line_splits, read_line_split, LineSplit};

/// Why inputs could not be expanded or read.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// A named file or directory does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The input as given.
        path: String,
    },
    /// A glob pattern matched nothing, or a directory holds no data files.
    #[error("{pattern}: matches no files")]
    NoMatch {
        /// The pattern or directory.
        pattern: String,
    },
    /// A glob pattern that does not parse.
    #[error("{pattern}: invalid glob pattern: {reason}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A store operation on an input URL failed (the message names the
    /// operation and the object's URL; never credentials).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An operating-system failure reading a file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl InputsError {
    /// The error for an I/O failure on `path`: a store failure carried
    /// through `io::Error` by a remote reader comes back out as itself, and
    /// a missing file is [`InputsError::NotFound`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let source = match source.downcast::<StoreError>() {
            Ok(store) => return InputsError::Store(store),
            Err(source) => source,
        };
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            InputsError::NotFound {
                path: path.display().to_string(),
            }
        } else {
            InputsError::Io { path, source }
        }
    }
}

/// Files named by `inputs`, in argument order; each directory's files
/// (recursive, sorted, skipping `.`/`_`-prefixed names such as `_SUCCESS`)
/// and each glob's matches (sorted) in place. A file named twice is read
/// once. Store URLs (`s3://bucket/prefix/`, globs such as
/// `s3://bucket/logs/*.csv`) expand the same way by listing keys; their
/// files are returned as URLs.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, InputsError> {
    let mut files = Vec::new();
    for input in inputs {
        for file in expand_one(input)? {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

fn expand_one(input: &str) -> Result<Vec<PathBuf>, InputsError> {
    if is_store_url(input) {
        return expand_remote(input);
    }
    let local = match input.split_once("://") {
        Some(("file", rest)) => rest,
        _ => input,
    };
    let path = Path::new(local);
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(InputsError::NoMatch {
                pattern: input.to_string(),
            });
        }
        return Ok(files);
    }
    if path.exists() {
        return Ok(vec![path.to_path_buf()]);
    }
    if local.contains(['*', '?', '[']) {
        return glob_files(input, local);
    }
    Err(InputsError::NotFound {
        path: input.to_string(),
    })
}

fn glob_files(input: &str, pattern: &str) -> Result<Vec<PathBuf>, InputsError> {
    let paths = glob::glob(pattern).map_err(|e| InputsError::BadGlob {
        pattern: input.to_string(),
        reason: e.msg.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            InputsError::io(path, e.into())
        })?;
        if path.is_dir() {
            walk(&path, &mut files)?;
        } else {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(InputsError::NoMatch {
            pattern: input.to_string(),
        });
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), InputsError> {
    let entries = std::fs::read_dir(dir).map_err(|e| InputsError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| InputsError::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(['.', '_']) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Lists a store URL: a glob over keys, a folder-like prefix, or one object.
fn expand_remote(input: &str) -> Result<Vec<PathBuf>, InputsError> {
    let (store, key) = Store::open_container(input)?;
    let root = store.url().to_string();
    // The listed objects below `folder` that `keep` accepts, as URLs.
    let matching = |folder: &str, keep: &dyn Fn(&str) -> bool| {
        let files: Vec<PathBuf> = store
            .list(folder)?
            .into_iter()
            .filter(|o| keep(&o.key) && !hidden(&o.key[folder.len()..]))
            .map(|o| PathBuf::from(format!("{root}/{}", o.key)))
            .collect();
        match files.is_empty() {
            true => Err(InputsError::NoMatch {
                pattern: input.to_string(),
            }),
            false => Ok(files),
        }
    };
    if let Some(glob_at) = key.find(['*', '?', '[']) {
        let pattern = glob::Pattern::new(&key).map_err(|e| InputsError::BadGlob {
            pattern: input.to_string(),
            reason: e.msg.to_string(),
        })?;
        let folder = key[..glob_at].rsplit_once('/').map_or("", |(dir, _)| dir);
        return matching(folder, &|k| glob_matches(&pattern, k));
    }
    match matching(&key, &|_| true) {
        Err(InputsError::NoMatch { .. }) => {}
        listed => return listed,
    }
    match store.size(&key) {
        Ok(_) if !key.is_empty() => Ok(vec![PathBuf::from(format!("{root}/{key}"))]),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(InputsError::NotFound {
            path: input.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A key matches when it, or the folder it lies in at any depth, matches
/// (a pattern naming folders takes everything inside, as for local globs);
/// `*` never crosses a `/`.
fn glob_matches(pattern: &glob::Pattern, key: &str) -> bool {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..Default::default()
    };
    key.match_indices('/')
        .map(|(i, _)| &key[..i])
        .chain([key])
        .any(|prefix| pattern.matches_with(prefix, options))
}

/// Whether a key below a listed prefix has a `.`/`_`-prefixed component.
fn hidden(relative: &str) -> bool {
    relative.split('/').any(|part| part.starts_with(['.', '_']))
}

/// One input file.
pub enum InputFile {
    /// A file on a local disk or POSIX mount.
    Local(PathBuf),
    /// An object in a store.
    Remote {
        /// The object's container (bucket root).
        store: Store,
        /// The object's key in it.
        key: String,
        /// The URL as written in the split, for messages.
        path: PathBuf,
    },
}

/// Whether `text` is a URL read through a store (not `file://`).
pub fn is_store_url(text: &str) -> bool {
    matches!(text.split_once("://"), Some((scheme, _)) if scheme != "file" && !scheme.contains('/'))
}

impl InputFile {
    /// The source of a split's or planner's file.
    pub fn of(path: &Path) -> Result<InputFile, InputsError> {
        let text = path.to_string_lossy();
        if !is_store_url(&text) {
            return Ok(InputFile::Local(path.to_path_buf()));
        }
        let (store, key) = Store::open_container(&text)?;
        Ok(InputFile::Remote {
            store,
            key,
            path: path.to_path_buf(),
        })
    }

    /// The file as given, for messages.
    pub fn path(&self) -> &Path {
        match self {
            InputFile::Local(path) | InputFile::Remote { path, .. } => path,
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> Result<u64, InputsError> {
        match self {
            InputFile::Local(path) => Ok(std::fs::metadata(path)
                .map_err(|e| InputsError::io(path, e))?
                .len()),
            InputFile::Remote { store, key, .. } => Ok(store.size(key)?),
        }
    }

    /// A reader over bytes `[start, end)`.
    pub fn open_range(&self, start: u64, end: u64) -> Result<Box<dyn Read>, InputsError> {
        match self {
            InputFile::Local(path) => {
                let mut file = File::open(path).map_err(|e| InputsError::io(path, e))?;
                if start > 0 {
                    file.seek(SeekFrom::Start(start))
                        .map_err(|e| InputsError::io(path, e))?;
                }
                Ok(Box::new(file.take(end.saturating_sub(start))))
            }
            InputFile::Remote { store, key, .. } => Ok(Box::new(store.reader(key, start..end))),
        }
    }

    /// A reader over the whole file.
    pub fn open(&self) -> Result<Box<dyn Read>, InputsError> {
        match self {
            InputFile::Local(path) => Ok(Box::new(
                File::open(path).map_err(|e| InputsError::io(path, e))?,
            )),
            InputFile::Remote { .. } => self.open_range(0, self.size()?),
        }
    }

    /// A reader over the whole file's content: decompressed when its name
    /// says it is compressed ([`Compression::of`]).
    pub fn open_decoded(&self) -> Result<Box<dyn Read>, InputsError> {
        let raw = self.open()?;
        Compression::of(self.path())
            .decoder(raw)
            .map_err(|e| InputsError::io(self.path(), e))
    }
}

/// Stream compression of an input file, from its name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Compression {
    /// Plain bytes: can be cut into byte-range splits.
    #[default]
    None,
    /// `.gz` (gzip, multi-member allowed).
    Gzip,
    /// `.zst` or `.zstd` (Zstandard).
    Zstd,
}

impl Compression {
    /// The compression a file name's extension says (case-insensitive).
    pub fn of(path: &Path) -> Compression {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        Compression::strip(&name).1
    }

    /// `name` without its compression extension, and the compression.
    pub fn strip(name: &str) -> (&str, Compression) {
        if let Some(stem) = name.strip_suffix(".gz") {
            (stem, Compression::Gzip)
        } else if let Some(stem) = name
            .strip_suffix(".zst")
            .or_else(|| name.strip_suffix(".zstd"))
        {
            (stem, Compression::Zstd)
        } else {
            (name, Compression::None)
        }
    }

    /// Whether the bytes must be decoded (and so cannot be cut into
    /// byte-range splits).
    pub fn is_compressed(self) -> bool {
        self != Compression::None
    }

    /// `raw` decoded. Corrupt streams show up as read errors.
    pub fn decoder<'a>(self, raw: Box<dyn Read + 'a>) -> std::io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => raw,
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(1 << 20, raw),
            )),
            Compression::Zstd => Box::new(zstd::Decoder::new(raw)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_keys_and_folders_without_crossing_slashes() {
        let p = glob::Pattern::new("logs/*.csv").unwrap();
        assert!(glob_matches(&p, "logs/a.csv"));
        assert!(!glob_matches(&p, "logs/x/a.csv"));
        let p = glob::Pattern::new("logs/2024-*").unwrap();
        assert!(glob_matches(&p, "logs/2024-01/part-0.csv"));
        assert!(!glob_matches(&p, "logs/2023-12/part-0.csv"));
        assert!(hidden("/_SUCCESS"));
        assert!(hidden("/.tmp/a"));
        assert!(!hidden("/a/b.csv"));
    }

    #[test]
    fn expands_memory_store_urls_like_directories() {
        let base = format!("memory://expand-{}", std::process::id());
        let store = Store::open(&base).unwrap();
        for key in [
            "ev/b.csv",
            "ev/a.csv",
            "ev/_SUCCESS",
            "ev/sub/c.jsonl",
            "other/d.csv",
        ] {
            store.put(key, bytes::Bytes::from_static(b"x")).unwrap();
        }
        let names = |input: &str| -> Vec<String> {
            expand_inputs(&[input.to_string()])
                .unwrap()
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(
            names(&format!("{base}/ev/")),
            [
                format!("{base}/ev/a.csv"),
                format!("{base}/ev/b.csv"),
                format!("{base}/ev/sub/c.jsonl")
            ]
        );
        assert_eq!(
            names(&format!("{base}/ev/*.csv")),
            [format!("{base}/ev/a.csv"), format!("{base}/ev/b.csv")]
        );
        assert_eq!(
            names(&format!("{base}/other/d.csv")),
            [format!("{base}/other/d.csv")]
        );
        let missing = expand_inputs(&[format!("{base}/nope")]).unwrap_err();
        assert!(matches!(missing, InputsError::NotFound { .. }), "{missing}");
        let none = expand_inputs(&[format!("{base}/ev/*.parquet")]).unwrap_err();
        assert!(matches!(none, InputsError::NoMatch { .. }), "{none}");
    }

    #[test]
    fn compressed_files_are_known_by_name_and_decoded() {
        use std::io::Write;
        assert_eq!(Compression::of(Path::new("a/b.CSV.GZ")), Compression::Gzip);
        assert_eq!(Compression::of(Path::new("b.txt.zstd")), Compression::Zstd);
        assert_eq!(Compression::of(Path::new("b.gz.txt")), Compression::None);
        assert_eq!(
            Compression::strip("e.jsonl.zst"),
            ("e.jsonl", Compression::Zstd)
        );
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        let gz_path = dir.path().join("t.txt.gz");
        std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
        let zst_path = dir.path().join("t.txt.zst");
        std::fs::write(&zst_path, zstd::encode_all(&b"one\ntwo\n"[..], 1).unwrap()).unwrap();
        for path in [gz_path, zst_path] {
            let mut text = String::new();
            InputFile::of(&path)
                .unwrap()
                .open_decoded()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text, "one\ntwo\n", "{}", path.display());
        }
    }

    #[test]
    fn only_store_schemes_are_remote() {
        assert!(is_store_url("s3://b/k"));
        assert!(is_store_url("memory://m/k"));
        assert!(!is_store_url("file:///x"));
        assert!(!is_store_url("/data/x.csv"));
        assert!(!is_store_url("dir/a://b"));
    }
}
