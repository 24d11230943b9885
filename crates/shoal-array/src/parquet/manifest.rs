//! `_manifest.json`: what a directory written by `save_parquet` holds.
//!
//! Written by the driver last, once every part file is committed, so a
//! manifest always describes a complete save. Its name starts with `_`, so
//! other readers (DuckDB's `dir/*.parquet`, Spark, Shoal's own input
//! expansion) pass it by; `Session::parquet` reads a directory through it,
//! which gives the files in partition order and ignores part files of an
//! earlier save not yet removed.

use std::path::Path;

use serde::{Deserialize, Serialize};
use shoal_core::Bytes;
use shoal_store::{Store, StoreError};

use super::columns::ColumnType;
use crate::ArrayError;

/// The manifest's key below the directory.
pub const PARQUET_MANIFEST: &str = "_manifest.json";
/// The `format` field of every Parquet manifest.
pub const PARQUET_FORMAT: &str = "shoal-parquet";
/// The manifest layout this crate writes.
pub const PARQUET_VERSION: u32 = 1;

/// The contents of `_manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParquetManifest {
    /// Always [`PARQUET_FORMAT`].
    pub format: String,
    /// Always [`PARQUET_VERSION`].
    pub version: u32,
    /// The columns, in order.
    pub columns: Vec<ManifestColumn>,
    /// The compression codec of every column chunk, e.g. `ZSTD(1)`.
    pub compression: String,
    /// Part file names below the directory, by partition.
    pub files: Vec<String>,
    /// Rows in each part file.
    pub rows: Vec<u64>,
}

/// One column as a manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestColumn {
    /// The column's name.
    pub name: String,
    /// Its Arrow type, e.g. `UInt64`, `LargeUtf8`.
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
}

impl ManifestColumn {
    pub(crate) fn new(name: &str, column: &ColumnType) -> Self {
        ManifestColumn {
            name: name.to_string(),
            data_type: column.data_type.to_string(),
            nullable: column.nullable,
        }
    }
}

impl ParquetManifest {
    /// The manifest of the directory at `url`, if it is one written by
    /// `save_parquet` (`None` for files, globs and other directories).
    pub(crate) fn find(url: &str) -> Result<Option<ParquetManifest>, ArrayError> {
        if url.contains(['*', '?', '[']) {
            return Ok(None);
        }
        let local = url.strip_prefix("file://").unwrap_or(url);
        if !shoal_store::inputs::is_store_url(url) && !Path::new(local).is_dir() {
            return Ok(None);
        }
        let bytes = match Store::open(url)?.get(PARQUET_MANIFEST) {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other.into()),
        };
        let bad = |reason: String| ArrayError::Manifest {
            url: format!("{}/{PARQUET_MANIFEST}", url.trim_end_matches('/')),
            reason,
        };
        let manifest: ParquetManifest = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a Parquet manifest: {e}")))?;
        if manifest.format != PARQUET_FORMAT || manifest.version != PARQUET_VERSION {
            return Err(bad(format!(
                "format '{}' version {}, expected '{PARQUET_FORMAT}' version {PARQUET_VERSION}",
                manifest.format, manifest.version
            )));
        }
        if manifest.files.len() != manifest.rows.len() {
            return Err(bad(format!(
                "{} files for {} row counts",
                manifest.files.len(),
                manifest.rows.len()
            )));
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest into `store` (the directory), replacing one
    /// there before.
    pub(crate) fn write(&self, store: &Store) -> Result<(), ArrayError> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| ArrayError::corrupt("Parquet manifest", e.to_string()))?;
        store.put(PARQUET_MANIFEST, Bytes::from(json))?;
        Ok(())
    }
}
