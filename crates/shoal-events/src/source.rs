//! Where an input file's bytes come from: a local path (or shared mount),
//! or an object in a store (`s3://bucket/key`, `gs://…`, `hdfs://…`).
//!
//! Splits carry the file as given (`Split::path`): a local path, or the
//! object's URL. Every reader goes through [`Source`], so the formats
//! never know where bytes come from; remote reads are ranged requests.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use shoal_store::Store;

use crate::error::InputError;

/// One input file.
pub(crate) enum Source {
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

/// Whether `text` is a URL Shoal reads through a store (not `file://`).
pub(crate) fn is_store_url(text: &str) -> bool {
    matches!(text.split_once("://"), Some((scheme, _)) if scheme != "file" && !scheme.contains('/'))
}

impl Source {
    /// The source of a split's or planner's file.
    pub(crate) fn of(path: &Path) -> Result<Source, InputError> {
        let text = path.to_string_lossy();
        if !is_store_url(&text) {
            return Ok(Source::Local(path.to_path_buf()));
        }
        let (store, key) = Store::open_container(&text)?;
        Ok(Source::Remote {
            store,
            key,
            path: path.to_path_buf(),
        })
    }

    /// The file as given, for messages.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Source::Local(path) | Source::Remote { path, .. } => path,
        }
    }

    /// The file's size in bytes.
    pub(crate) fn size(&self) -> Result<u64, InputError> {
        match self {
            Source::Local(path) => Ok(std::fs::metadata(path)
                .map_err(|e| InputError::io(path, e))?
                .len()),
            Source::Remote { store, key, .. } => Ok(store.size(key)?),
        }
    }

    /// A reader over bytes `[start, end)`.
    pub(crate) fn open_range(&self, start: u64, end: u64) -> Result<Box<dyn Read>, InputError> {
        match self {
            Source::Local(path) => {
                let mut file = File::open(path).map_err(|e| InputError::io(path, e))?;
                if start > 0 {
                    file.seek(SeekFrom::Start(start))
                        .map_err(|e| InputError::io(path, e))?;
                }
                Ok(Box::new(file.take(end.saturating_sub(start))))
            }
            Source::Remote { store, key, .. } => Ok(Box::new(store.reader(key, start..end))),
        }
    }

    /// A reader over the whole file.
    pub(crate) fn open(&self) -> Result<Box<dyn Read>, InputError> {
        match self {
            Source::Local(path) => Ok(Box::new(
                File::open(path).map_err(|e| InputError::io(path, e))?,
            )),
            Source::Remote { .. } => self.open_range(0, self.size()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_store_schemes_are_remote() {
        assert!(is_store_url("s3://b/k"));
        assert!(is_store_url("memory://m/k"));
        assert!(!is_store_url("file:///x"));
        assert!(!is_store_url("/data/x.csv"));
        assert!(!is_store_url("dir/a://b"));
    }
}
