//! Parquet in and out: [`Session::parquet`](crate::Session::parquet) reads
//! Parquet files as an array, [`DistArray::save_parquet`](crate::DistArray::save_parquet)
//! writes one, so arrays travel to and from DuckDB, Polars, Spark and
//! pyarrow.
//!
//! ```
//! let session = shoal_array::Session::embedded();
//! let dir = tempfile::tempdir().unwrap();
//! let url = dir.path().to_str().unwrap();
//! let rows = vec![(1u64, "a".to_string(), Some(0.5f64)), (2, "b".into(), None)];
//! session.from_vec(rows.clone(), 2).save_parquet(url, &["id", "name", "score"]).unwrap();
//! // Any subset of the columns, in any order; DuckDB reads `url/*.parquet`.
//! let names = session.parquet::<(String, u64)>(url, &["name", "id"]).unwrap();
//! assert_eq!(names.collect().unwrap(), vec![("a".to_string(), 1), ("b".to_string(), 2)]);
//! assert_eq!(session.parquet::<(u64, String, Option<f64>)>(url, &["id", "name", "score"])
//!     .unwrap().collect().unwrap(), rows);
//! ```
//!
//! **Elements and columns.** An element is a row: a [`ParquetRow`] — one
//! [`ParquetValue`] (one column) or a tuple of up to eight (one column per
//! field, named by the caller in order), or a struct of your own that
//! implements `ParquetRow`. Conversion is per batch and per column, never
//! per element through a generic encoder: a batch of `u64` becomes an
//! Arrow array without a copy, and a `u64` column read back is one copy.
//!
//! | Rust | written as (Arrow → Parquet) | reads from |
//! | --- | --- | --- |
//! | `bool` | Boolean → BOOLEAN | Boolean |
//! | `i8`, `i16`, `i32`, `i64` | Int8..Int64 → INT32/INT64 (signed INTEGER) | the same Arrow type |
//! | `u8`, `u16`, `u32`, `u64` | UInt8..UInt64 → INT32/INT64 (unsigned INTEGER; DuckDB's UTINYINT..UBIGINT) | the same Arrow type |
//! | `f32`, `f64` | Float32, Float64 → FLOAT, DOUBLE | the same Arrow type |
//! | `String` | LargeUtf8 → BYTE_ARRAY (STRING) | any string layout (Utf8, LargeUtf8, Utf8View) |
//! | `Vec<u8>` | LargeBinary → BYTE_ARRAY | any binary layout |
//! | `Option<T>` of the above | the same, nullable | the same |
//!
//! **Schemas are checked before anything runs**: the named columns must
//! exist in every file and hold exactly the element's types (no silent
//! widening or casts: reading a DuckDB `BIGINT` needs `i64`, a `TIMESTAMP`
//! is not an integer). A mismatch is [`ArrayError::Schema`](crate::ArrayError::Schema)
//! naming the file and the column — a user input error, exit code 2 from
//! the command line.
//!
//! **Nulls** map to `None`: read a column that may hold nulls as
//! `Option<T>`. Files mark columns nullable freely (DuckDB marks every
//! column so), so a nullable column reads as a plain `T` as long as it
//! holds no null; a null met in a column read as a plain `T` fails the job
//! with an input error naming the file, column and row — never a silent
//! default. `save_parquet` writes plain values as required columns and
//! `Option`s as nullable ones.
//!
//! **Reading** ([`source`]): row groups are the splits (small consecutive
//! ones merged up to [`MIN_SPLIT_ROWS`]), only the named columns are
//! decoded, and from a store only their column chunks are fetched,
//! footer first, one row group ahead (shoal-store's
//! [`inputs::parquet`](shoal_store::inputs::parquet), shared with the
//! event readers). Partition lengths come from the footers.
//!
//! **Writing** ([`sink`]): one file per partition (empty partitions give a
//! file with the schema and no rows), ZSTD level 1, row groups of at most
//! [`ROW_GROUP_ROWS`] rows, committed first-wins under names unique to the
//! job run; then `_manifest.json` ([`ParquetManifest`]), written last by
//! the driver; then part files of earlier saves there are deleted. A task
//! holds its encoded (compressed) file in memory within its share of the
//! memory budget and spills it to the work directory beyond it, so a
//! partition of any size is saved holding about one row group.
//!
//! ```text
//! <url>/part-00000-<run>.parquet   one per partition, in partition order
//! <url>/part-00001-<run>.parquet
//! <url>/_manifest.json             columns, compression, files, rows; written last
//! ```

mod columns;
mod manifest;
pub mod sink;
pub mod source;
mod spool;

pub use columns::{ColumnError, ColumnType, ParquetRow, ParquetValue};
pub use manifest::{
    ManifestColumn, ParquetManifest, PARQUET_FORMAT, PARQUET_MANIFEST, PARQUET_VERSION,
};
pub use sink::ROW_GROUP_ROWS;
pub use source::MIN_SPLIT_ROWS;

/// The Arrow arrays a [`ParquetRow`] converts to and from.
pub use arrow_array;
/// Arrow's data types, as [`ColumnType`] names them.
pub use arrow_schema;
