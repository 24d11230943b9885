//! `save_parquet`: one Parquet file per partition, committed first-wins,
//! then the manifest.
//!
//! A task encodes its partition batch by batch into one Parquet file
//! (ZSTD level 1, row groups of at most [`ROW_GROUP_ROWS`] rows) — held in
//! memory within the task's share of the memory budget, beyond it in an
//! anonymous spill file in the work directory — and commits it with [`Store::put_if_absent`] under a name unique to the job
//! run and partition, `part-00007-<run>.parquet`. Attempts of one task in
//! one run share that name, so the first to commit wins and a later
//! attempt (a retry after a lost report, a speculative duplicate) leaves the
//! committed file alone and reports *its* row count, read from its footer.
//! The driver then writes `_manifest.json` and deletes part files of
//! earlier saves to the same directory, so DuckDB, Polars or Spark reading
//! `dir/*.parquet` see exactly this save. A crash between the manifest and
//! the clean-up leaves old parts behind; `Session::parquet` reads through
//! the manifest and never sees them.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use shoal_core::route::stable_hash;
use shoal_core::{TaskContext, TaskError};
use shoal_store::inputs::parquet::ParquetInput;
use shoal_store::inputs::InputFile;
use shoal_store::Store;

use super::columns::{ColumnType, ParquetRow};
use super::manifest::{ManifestColumn, ParquetManifest, PARQUET_FORMAT, PARQUET_VERSION};
use super::spool::{SpillReader, Spool, Spooled};
use crate::array::encode_blob;
use crate::codec::decode;
use crate::part::{Flow, BATCH};
use crate::{Action, ArrayError, DistArray};

/// Rows per row group written: Arrow's default, large enough for fast
/// scans, small enough that a reader's split (one row group) stays modest.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// The compression of every column chunk written: ZSTD at level 1 —
/// about as fast to write and read as Snappy, markedly smaller, and read
/// by DuckDB, Polars, Spark and pyarrow alike.
fn compression() -> Compression {
    Compression::ZSTD(ZstdLevel::default())
}

impl<R: ParquetRow> DistArray<R> {
    /// The action behind [`DistArray::save_parquet`], for registered jobs.
    pub fn save_parquet_action(
        &self,
        url: &str,
        columns: &[&str],
    ) -> Result<Action<ParquetManifest>, ArrayError> {
        let types = R::column_types();
        let schema = schema(url, columns, &types)?;
        let manifest_columns: Vec<ManifestColumn> = columns
            .iter()
            .zip(&types)
            .map(|(name, column)| ManifestColumn::new(name, column))
            .collect();
        let task_url = url.to_string();
        let url = url.to_string();
        Ok(self.action(
            "save_parquet",
            move |ctx, compute| {
                let key = part_key(ctx);
                let spool = Spool::new(ctx.memory().reservation(), ctx.spill_space().clone());
                let (spooled, rows) = encode_part::<R>(compute(ctx)?, &schema, spool)?;
                let rows = commit_part(&Store::open(&task_url)?, &key, spooled, rows)?;
                encode_blob(&[(key, rows)])
            },
            move |results| {
                let mut parts: Vec<(String, u64)> = Vec::with_capacity(results.len());
                for (partition, blob) in results.iter().enumerate() {
                    let what = || format!("save_parquet result of partition {partition}");
                    let decoded: Vec<(String, u64)> =
                        decode(blob).map_err(|e| ArrayError::corrupt(what(), e))?;
                    let [part]: [(String, u64); 1] = decoded
                        .try_into()
                        .map_err(|_| ArrayError::corrupt(what(), "not one entry"))?;
                    parts.push(part);
                }
                let (files, rows) = parts.into_iter().unzip();
                let manifest = ParquetManifest {
                    format: PARQUET_FORMAT.to_string(),
                    version: PARQUET_VERSION,
                    columns: manifest_columns,
                    compression: compression().to_string(),
                    files,
                    rows,
                };
                let store = Store::open(&url)?;
                manifest.write(&store)?;
                remove_stale_parts(&store, &manifest.files)?;
                Ok(manifest)
            },
        ))
    }

    /// Writes the array as Parquet files into the directory (or prefix)
    /// `url` — local, a shared mount, or a store URL — one file per
    /// partition, each element a row of the columns `columns` (see
    /// [`ParquetRow`]), then `_manifest.json`. Replaces part files of an
    /// earlier `save_parquet` there. Readable by
    /// [`Session::parquet`](crate::Session::parquet) and, as
    /// `read_parquet('url/*.parquet')`, by DuckDB, Polars and Spark.
    pub fn save_parquet(&self, url: &str, columns: &[&str]) -> Result<ParquetManifest, ArrayError> {
        self.session
            .execute(self.save_parquet_action(url, columns)?)
    }
}

/// The Arrow schema of rows of `types` named `names`.
fn schema(url: &str, names: &[&str], types: &[ColumnType]) -> Result<SchemaRef, ArrayError> {
    let bad = |reason: String| ArrayError::Schema {
        url: url.to_string(),
        reason,
    };
    if names.len() != types.len() {
        return Err(bad(format!(
            "{} column names for an element of {} columns",
            names.len(),
            types.len()
        )));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(bad(format!("column {i} has an empty name")));
        }
        if names[..i].contains(name) {
            return Err(bad(format!("column name '{name}' is given twice")));
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(types)
        .map(|(name, t)| Field::new(*name, t.data_type.clone(), t.nullable))
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// The part file of this task: the same for every attempt of it in this
/// job run, different in any other run.
fn part_key(ctx: &TaskContext<'_>) -> String {
    let run = stable_hash(ctx.id().job_id.as_bytes());
    format!("part-{:05}-{run:016x}.parquet", ctx.partition())
}

/// Whether `key` names a part file as [`part_key`] makes them.
fn is_part_file(key: &str) -> bool {
    let Some(middle) = key
        .strip_prefix("part-")
        .and_then(|k| k.strip_suffix(".parquet"))
    else {
        return false;
    };
    let Some((partition, run)) = middle.split_once('-') else {
        return false;
    };
    partition.len() >= 5
        && partition.bytes().all(|b| b.is_ascii_digit())
        && run.len() == 16
        && run.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One partition as a Parquet file written to `spool`, and its row count.
fn encode_part<R: ParquetRow>(
    flow: Flow<R>,
    schema: &SchemaRef,
    spool: Spool,
) -> Result<(Spooled, u64), TaskError> {
    let props = WriterProperties::builder()
        .set_compression(compression())
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(spool, schema.clone(), Some(props)).map_err(encoding)?;
    let rows = match write_rows::<R>(flow, schema, &mut writer) {
        Ok(rows) => rows,
        // The spool's own failure (a full work directory) says more than
        // the writer's message about it.
        Err(err) => return Err(writer.inner_mut().take_failure().unwrap_or(err)),
    };
    let spool = writer.into_inner().map_err(encoding)?;
    Ok((spool.finish()?, rows))
}

fn encoding(err: parquet::errors::ParquetError) -> TaskError {
    TaskError::fatal(format!("encoding a partition as Parquet: {err}"))
}

/// Writes the rows of `flow` as record batches; returns their count.
fn write_rows<R: ParquetRow>(
    flow: Flow<R>,
    schema: &SchemaRef,
    writer: &mut ArrowWriter<Spool>,
) -> Result<u64, TaskError> {
    let mut rows = 0u64;
    for batch in flow.batches() {
        for chunk in chunks(batch?) {
            rows += chunk.len() as u64;
            let columns = R::to_columns(chunk);
            let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
                TaskError::fatal(format!(
                    "{}'s columns do not match its column types: {e}",
                    std::any::type_name::<R>()
                ))
            })?;
            writer.write(&batch).map_err(encoding)?;
        }
    }
    Ok(rows)
}

/// `items` in runs of at most [`BATCH`], each moved once: a whole
/// partition arriving as one vector is converted a batch at a time.
fn chunks<T>(items: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut items = Some(items);
    let mut rest = None::<std::vec::IntoIter<T>>;
    std::iter::from_fn(move || {
        if let Some(whole) = items.take() {
            if whole.len() <= BATCH {
                return (!whole.is_empty()).then_some(whole);
            }
            rest = Some(whole.into_iter());
        }
        let chunk: Vec<T> = rest.as_mut()?.take(BATCH).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}

/// Publishes `encoded` (of `rows` rows) at `key` unless an earlier attempt
/// did; returns the rows of the file that stands.
fn commit_part(store: &Store, key: &str, encoded: Spooled, rows: u64) -> Result<u64, TaskError> {
    let committed = match encoded {
        Spooled::Memory(bytes, _held) => store.put_if_absent(key, bytes)?,
        Spooled::Disk(file) => {
            let len = file.len();
            let name = format!("the spilled Parquet file for {}", store.object_url(key));
            store.put_read_if_absent(key, SpillReader::new(file), len, &name)?
        }
    };
    if committed {
        return Ok(rows);
    }
    let url = store.object_url(key);
    let committed = InputFile::Remote {
        store: store.clone(),
        key: key.to_string(),
        path: url.clone().into(),
    };
    let input = ParquetInput::open(&committed)
        .map_err(|e| TaskError::caused_by(format!("reading the committed {url}"), e))?;
    Ok(input
        .metadata()
        .metadata()
        .file_metadata()
        .num_rows()
        .max(0) as u64)
}

/// Deletes part files in `store` other than `keep` (an earlier save's).
fn remove_stale_parts(store: &Store, keep: &[String]) -> Result<(), ArrayError> {
    for object in store.list("")? {
        if is_part_file(&object.key) && !keep.contains(&object.key) {
            store.delete(&object.key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shoal_core::{MemoryPool, SpillSpace};

    use super::*;

    /// `values` encoded in memory, or spilled when `budget` is 0.
    fn encoded(values: Vec<u64>, budget: u64) -> (Spooled, u64) {
        let schema = schema("test", &["x"], &u64::column_types()).unwrap();
        let pool = MemoryPool::new(budget, 1);
        let dir = std::env::temp_dir();
        let spool = Spool::new(pool.task().reservation(), SpillSpace::new(dir, pool));
        let flow = Flow::Ready(crate::part::Part::Owned(values));
        encode_part::<u64>(flow, &schema, spool).unwrap()
    }

    #[test]
    fn the_first_committed_attempt_wins_and_later_ones_report_it() {
        let store = Store::open("memory://parquet-first-commit").unwrap();
        let key = "part-00000-0123456789abcdef.parquet";
        let (first, rows) = encoded(vec![1, 2, 3], 0);
        assert!(matches!(first, Spooled::Disk(_)), "a budget of 0 spills");
        assert_eq!(commit_part(&store, key, first, rows).unwrap(), 3);
        let committed = store.get(key).unwrap();
        let (second, rows) = encoded(vec![4, 5], 1 << 30);
        assert!(matches!(second, Spooled::Memory(..)));
        assert_eq!(commit_part(&store, key, second, rows).unwrap(), 3);
        assert_eq!(store.get(key).unwrap(), committed);
        let input = InputFile::Remote {
            store: store.clone(),
            key: key.to_string(),
            path: key.into(),
        };
        let meta = ParquetInput::open(&input).unwrap();
        assert_eq!(meta.metadata().metadata().file_metadata().num_rows(), 3);
    }

    #[test]
    fn part_files_are_recognised_by_name() {
        assert!(is_part_file("part-00007-0123456789abcdef.parquet"));
        assert!(is_part_file("part-123456-0123456789abcdef.parquet"));
        assert!(!is_part_file("part-7-0123456789abcdef.parquet"));
        assert!(!is_part_file("part-00007-0123456789abcdef.parquet.tmp"));
        assert!(!is_part_file("sub/part-00007-0123456789abcdef.parquet"));
        assert!(!is_part_file("data.parquet"));
        assert!(!is_part_file("_manifest.json"));
    }

    #[test]
    fn partitions_are_cut_into_batches_without_losing_rows() {
        let sizes = |n: usize| {
            chunks((0..n).collect::<Vec<_>>())
                .map(|c| c.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(5), vec![5]);
        assert_eq!(sizes(2 * BATCH + 1), vec![BATCH, BATCH, 1]);
        let all: Vec<usize> = chunks((0..3 * BATCH).collect()).flatten().collect();
        assert_eq!(all, (0..3 * BATCH).collect::<Vec<_>>());
    }
}
