//! `Session::parquet`: Parquet files as an array, row groups as splits.
//!
//! Planning (on the driver, and again on every node that rebuilds the
//! pipeline) lists the files — those a saved directory's manifest names,
//! else whatever the URL expands to — and reads each footer: the named
//! columns must exist and have the element's types, and the row groups
//! become splits. A split is one row group, or consecutive row groups of
//! one file holding together at least [`MIN_SPLIT_ROWS`] rows, so files
//! written with small row groups (DuckDB: 122,880 rows) do not make
//! thousands of tiny tasks. Partition lengths come from the footers, so
//! `len` runs nothing. A task decodes its split's projected columns
//! batch by batch (from a store: one row group ahead), and its partition
//! streams to its consumer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_schema::Schema;
use shoal_core::TaskError;
use shoal_store::inputs::parquet::{ParquetInput, ParquetInputError};
use shoal_store::inputs::{expand_inputs, InputFile, InputsError};

use super::columns::{ColumnError, ColumnType, ParquetRow};
use super::manifest::ParquetManifest;
use crate::array::Compute;
use crate::part::{Flow, Part, BATCH};
use crate::{ArrayError, DistArray, Session};

/// Row groups of one file are merged into one split until it holds this
/// many rows.
pub const MIN_SPLIT_ROWS: u64 = 1 << 20;

/// What one task reads: row groups `groups` of file `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    file: usize,
    groups: std::ops::Range<usize>,
    /// The file's row number of the first row, for messages.
    first_row: u64,
    rows: u64,
}

impl Session {
    /// The rows of Parquet files as an array of `R`, reading only the
    /// top-level columns `columns`, which fill `R`'s columns in order (see
    /// [`ParquetRow`]; e.g. `parquet::<(u64, String)>(url, &["id", "name"])`).
    ///
    /// `url` is a file, a directory or prefix (every file below it; a
    /// directory written by [`DistArray::save_parquet`] is read through its
    /// manifest, in partition order), or a glob; local or a store URL
    /// (`s3://`, `memory://`, `file://`, ...). Partitions are row groups
    /// (small ones merged, see the module docs), in file order.
    ///
    /// A missing column or one of another type is an input error naming the
    /// file and column, before anything runs; a null in a column read as a
    /// plain value (not an `Option`) fails the job with an input error
    /// naming the file, column and row.
    pub fn parquet<R: ParquetRow>(
        &self,
        url: &str,
        columns: &[&str],
    ) -> Result<DistArray<R>, ArrayError> {
        let types = R::column_types();
        if columns.len() != types.len() {
            return Err(ArrayError::Schema {
                url: url.to_string(),
                reason: format!(
                    "{} column names for an element of {} columns",
                    columns.len(),
                    types.len()
                ),
            });
        }
        let names: Arc<[String]> = columns.iter().map(|c| c.to_string()).collect();
        let files = input_files(url)?;
        let mut splits = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let input = open(file).map_err(|e| planning_error(file, e))?;
            resolve(&input, &names, &types).map_err(|reason| ArrayError::Schema {
                url: file.display().to_string(),
                reason,
            })?;
            splits.extend(plan_splits(index, &row_group_rows(&input)));
        }
        let lengths: Vec<u64> = match splits.is_empty() {
            true => vec![0],
            false => splits.iter().map(|s| s.rows).collect(),
        };
        let parts = lengths.len() as u32;
        let (files, splits) = (Arc::new(files), Arc::new(splits));
        let compute: Compute<R> = Arc::new(move |ctx| match splits.get(ctx.partition() as usize) {
            Some(split) => read_split::<R>(&files[split.file], split, &names, &types),
            None => Ok(Flow::Ready(Part::Owned(Vec::new()))),
        });
        Ok(DistArray::source(
            self.clone(),
            parts,
            Some(lengths),
            false,
            compute,
        ))
    }
}

/// The files `url` names: those of a saved directory's manifest, in
/// partition order, or the URL expanded like every input.
fn input_files(url: &str) -> Result<Vec<PathBuf>, ArrayError> {
    if let Some(manifest) = ParquetManifest::find(url)? {
        let base = url.strip_prefix("file://").unwrap_or(url);
        let base = base.trim_end_matches('/');
        return Ok(manifest
            .files
            .iter()
            .map(|file| PathBuf::from(format!("{base}/{file}")))
            .collect());
    }
    expand_inputs(&[url.to_string()]).map_err(|e| match e {
        InputsError::Store(store) => ArrayError::Store(store),
        other => ArrayError::Input {
            path: url.to_string(),
            reason: other.to_string(),
        },
    })
}

fn open(file: &Path) -> Result<ParquetInput, ParquetInputError> {
    ParquetInput::open(&InputFile::of(file)?)
}

/// A failure to open `file` while planning.
fn planning_error(file: &Path, err: ParquetInputError) -> ArrayError {
    match err {
        ParquetInputError::Files(InputsError::Store(store)) => ArrayError::Store(store),
        other => ArrayError::Input {
            path: file.display().to_string(),
            reason: other.to_string(),
        },
    }
}

/// A failure to read `file` in a task: bad data is the user's input,
/// storage trouble may pass on another attempt.
fn task_error(file: &Path, err: ParquetInputError) -> TaskError {
    match err {
        ParquetInputError::Files(InputsError::Store(store)) => TaskError::from(store),
        ParquetInputError::Files(io @ InputsError::Io { .. }) => {
            TaskError::caused_by(format!("reading {}", file.display()), io)
        }
        other => TaskError::input(other.to_string()),
    }
}

/// The top-level column index of each name, checking the types.
fn resolve(
    input: &ParquetInput,
    names: &[String],
    types: &[ColumnType],
) -> Result<Vec<usize>, String> {
    let schema: &Schema = input.metadata().schema();
    names
        .iter()
        .zip(types)
        .enumerate()
        .map(|(field, (name, wanted))| {
            let index = schema.index_of(name).map_err(|_| {
                let known: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                format!("no column '{name}' (columns: {})", known.join(", "))
            })?;
            let found = schema.field(index).data_type();
            if !wanted.accepts(found) {
                return Err(format!(
                    "column '{name}' holds {found}, but the element's column {field} is {}",
                    wanted.data_type
                ));
            }
            Ok(index)
        })
        .collect()
}

/// Rows of each row group of `input`.
fn row_group_rows(input: &ParquetInput) -> Vec<u64> {
    let meta = input.metadata().metadata();
    meta.row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as u64)
        .collect()
}

/// Splits of file `file` whose row groups hold `rows` rows each: one per
/// row group, small consecutive ones merged up to [`MIN_SPLIT_ROWS`].
fn plan_splits(file: usize, rows: &[u64]) -> Vec<Split> {
    let mut splits = Vec::new();
    let (mut first, mut first_row, mut held) = (0, 0, 0);
    for (group, &count) in rows.iter().enumerate() {
        held += count;
        if held >= MIN_SPLIT_ROWS || group + 1 == rows.len() {
            splits.push(Split {
                file,
                groups: first..group + 1,
                first_row,
                rows: held,
            });
            first = group + 1;
            first_row += held;
            held = 0;
        }
    }
    splits
}

/// Streams the rows of `split` of `file`.
fn read_split<R: ParquetRow>(
    file: &Path,
    split: &Split,
    names: &Arc<[String]>,
    types: &[ColumnType],
) -> Result<Flow<R>, TaskError> {
    let input = open(file).map_err(|e| task_error(file, e))?;
    let roots = resolve(&input, names, types)
        .map_err(|reason| TaskError::input(format!("{}: {reason}", file.display())))?;
    let batches = input
        .batches(&roots, split.groups.clone(), BATCH)
        .map_err(|e| task_error(file, e))?;
    let positions = batch_positions(&roots);
    let (file, names) = (file.to_path_buf(), names.clone());
    let mut row = split.first_row;
    Ok(Flow::Stream(Box::new(batches.map(move |batch| {
        let batch = batch.map_err(|e| task_error(&file, e))?;
        let columns: Vec<ArrayRef> = positions
            .iter()
            .map(|&at| batch.column(at).clone())
            .collect();
        let rows = R::from_columns(&columns)
            .map_err(|e| TaskError::input(describe_column_error(&file, &names, row, e)))?;
        row += batch.num_rows() as u64;
        Ok(rows)
    }))))
}

/// Where each of `roots` lands in a batch projected to them: the decoder
/// keeps the file's column order and reads a column named twice once.
fn batch_positions(roots: &[usize]) -> Vec<usize> {
    let mut projected = roots.to_vec();
    projected.sort_unstable();
    projected.dedup();
    roots
        .iter()
        .map(|root| projected.partition_point(|p| p < root))
        .collect()
}

/// `err` as one line naming the file, the column and the file's row.
fn describe_column_error(
    file: &Path,
    names: &[String],
    first_row: u64,
    err: ColumnError,
) -> String {
    let file = file.display();
    match err {
        ColumnError::Null { column, row } => format!(
            "{file}: column '{}' is null in row {}; read it as an Option to keep nulls",
            names[column],
            first_row + row as u64
        ),
        ColumnError::Type {
            column,
            found,
            expected,
        } => format!(
            "{file}: column '{}' holds {found}, expected {expected}",
            names[column]
        ),
        count @ ColumnError::Count { .. } => format!("{file}: {count}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_become_splits_and_small_ones_merge() {
        let big = MIN_SPLIT_ROWS;
        let splits = plan_splits(3, &[big, 10, big - 20, 15, 7]);
        let shape: Vec<_> = splits
            .iter()
            .map(|s| (s.groups.clone(), s.first_row, s.rows))
            .collect();
        assert_eq!(
            shape,
            vec![(0..1, 0, big), (1..4, big, big + 5), (4..5, 2 * big + 5, 7)]
        );
        assert!(splits.iter().all(|s| s.file == 3));
        assert!(plan_splits(0, &[]).is_empty());
    }

    #[test]
    fn projected_columns_are_found_in_file_order() {
        assert_eq!(batch_positions(&[4, 1, 4, 0]), vec![2, 1, 2, 0]);
    }
}
