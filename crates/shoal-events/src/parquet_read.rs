//! Parquet: planning by row groups and reading only the mapped columns.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use shoal_store::inputs::parquet::{FirstGroup, ParquetInput, ParquetInputError};

use crate::collect::Collector;
use crate::error::InputError;
use crate::options::{ColumnMap, Compression, Format, TsUnit};
use crate::source::Source;
use crate::split::{Split, SplitRange};

/// Rows per decoded batch: large enough to amortise per-batch work.
const BATCH_ROWS: usize = 64 * 1024;

const ROLES: [&str; 4] = ["user_id", "ts", "event", "item"];

fn corrupt(path: &Path, err: impl std::fmt::Display) -> InputError {
    InputError::Corrupt {
        path: path.to_path_buf(),
        format: "Parquet",
        reason: err.to_string(),
    }
}

impl From<ParquetInputError> for InputError {
    fn from(err: ParquetInputError) -> Self {
        match err {
            ParquetInputError::Files(files) => files.into(),
            ParquetInputError::Corrupt { path, reason } => corrupt(&path, reason),
        }
    }
}

/// Top-level column index of each role (item `None` when absent and
/// optional), checking names and types.
fn resolve(
    meta: &ArrowReaderMetadata,
    columns: &ColumnMap,
    path: &Path,
) -> Result<[Option<usize>; 4], InputError> {
    let schema = meta.schema();
    let names = [
        columns.user_id(),
        columns.ts(),
        columns.event(),
        columns.item(),
    ];
    let mut out = [None; 4];
    for (role, name) in names.iter().enumerate() {
        match schema.index_of(name) {
            Ok(i) => {
                let dt = schema.field(i).data_type();
                let ok = if role == 1 {
                    ts_type_ok(dt)
                } else {
                    text_type_ok(dt)
                };
                if !ok {
                    return Err(InputError::ColumnType {
                        path: path.to_path_buf(),
                        role: ROLES[role],
                        column: name.to_string(),
                        found: dt.to_string(),
                    });
                }
                out[role] = Some(i);
            }
            Err(_) if role == 3 && !columns.item_required() => {}
            Err(_) => {
                return Err(InputError::MissingColumn {
                    path: path.to_path_buf(),
                    role: ROLES[role],
                    column: name.to_string(),
                    found: schema.fields().iter().map(|f| f.name().clone()).collect(),
                })
            }
        }
    }
    Ok(out)
}

/// The top-level columns a split decodes: those of the resolved roles,
/// in role order (planning and reading must agree, so that the column
/// chunks planned for a split's first row group are the ones it reads).
fn projection(roles: &[Option<usize>; 4]) -> Vec<usize> {
    roles.iter().flatten().copied().collect()
}

fn text_type_ok(dt: &DataType) -> bool {
    dt.is_integer()
        || matches!(
            dt,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
        || matches!(dt, DataType::Dictionary(_, v) if text_type_ok(v))
}

fn ts_type_ok(dt: &DataType) -> bool {
    text_type_ok(dt)
        || matches!(
            dt,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
        )
}

/// Validates the columns and groups row groups into splits of about
/// `target` compressed bytes.
pub(crate) fn plan(
    source: &Source,
    columns: &ColumnMap,
    target: u64,
) -> Result<Vec<Split>, InputError> {
    let path = source.path();
    let input = ParquetInput::open(source)?;
    let meta = input.metadata();
    let roots = projection(&resolve(meta, columns, path)?);
    let groups = meta.metadata().row_groups();
    let mut splits = Vec::new();
    let (mut first, mut first_row, mut rows, mut bytes) = (0usize, 0u64, 0u64, 0u64);
    for (i, group) in groups.iter().enumerate() {
        bytes += group.compressed_size().max(0) as u64;
        rows += group.num_rows().max(0) as u64;
        if bytes >= target || i + 1 == groups.len() {
            splits.push(Split {
                path: path.to_path_buf(),
                format: Format::Parquet,
                compression: Compression::None,
                range: SplitRange::RowGroups {
                    first,
                    count: i + 1 - first,
                    first_row,
                    first_chunks: input.column_chunks(&roots, first),
                },
                header: Vec::new(),
                size_bytes: bytes,
            });
            first = i + 1;
            first_row += rows;
            rows = 0;
            bytes = 0;
        }
    }
    Ok(splits)
}

/// Reads the row groups of `split` into `out`.
pub(crate) fn read(
    split: &Split,
    columns: &ColumnMap,
    out: &mut Collector<'_>,
) -> Result<(), InputError> {
    let path = split.path.as_path();
    let SplitRange::RowGroups {
        first,
        count,
        first_row,
        ref first_chunks,
    } = split.range
    else {
        return Err(InputError::StaleSplit {
            path: path.to_path_buf(),
            what: "range (not row groups)".to_string(),
        });
    };
    let planned = (!first_chunks.is_empty()).then(|| FirstGroup {
        group: first,
        chunks: first_chunks.clone(),
    });
    let input = ParquetInput::open_fetching(&Source::of(path)?, planned)?;
    if first + count > input.metadata().metadata().num_row_groups() {
        return Err(InputError::StaleSplit {
            path: path.to_path_buf(),
            what: format!("row groups {first}..{}", first + count),
        });
    }
    let roots = projection(&resolve(input.metadata(), columns, path)?);
    let names = [
        columns.user_id(),
        columns.ts(),
        columns.event(),
        columns.item(),
    ];
    let mut row = first_row;
    for batch in input.batches(&roots, first..first + count, BATCH_ROWS)? {
        row = read_batch(&batch?, &names, row, out, path)?;
    }
    Ok(())
}

fn text_column(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Option<StringArray>, InputError> {
    let Some(col) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let col = if col.data_type() == &DataType::Utf8 {
        col.clone()
    } else {
        arrow_cast::cast(col, &DataType::Utf8).map_err(|e| corrupt(path, e))?
    };
    Ok(Some(col.as_string::<i32>().clone()))
}

/// The ts column as epoch milliseconds (`None` = null or unparsable).
fn ts_column(col: &ArrayRef, unit: TsUnit, path: &Path) -> Result<Vec<Option<i64>>, InputError> {
    let as_i64 = |c: &ArrayRef| -> Result<ArrayRef, InputError> {
        arrow_cast::cast(c, &DataType::Int64).map_err(|e| corrupt(path, e))
    };
    let convert = |c: ArrayRef, f: &dyn Fn(i64) -> Option<i64>| -> Vec<Option<i64>> {
        c.as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.and_then(f))
            .collect()
    };
    Ok(match col.data_type() {
        DataType::Timestamp(tu, _) => {
            let tu = match tu {
                TimeUnit::Second => TsUnit::S,
                TimeUnit::Millisecond => TsUnit::Ms,
                TimeUnit::Microsecond => TsUnit::Us,
                TimeUnit::Nanosecond => TsUnit::Ns,
            };
            convert(as_i64(col)?, &|v| tu.to_ms(v))
        }
        DataType::Date32 => convert(as_i64(col)?, &|v| v.checked_mul(86_400_000)),
        DataType::Date64 => convert(as_i64(col)?, &Some),
        dt if dt.is_integer() => convert(as_i64(col)?, &|v| unit.to_ms(v)),
        _ => {
            let text = arrow_cast::cast(col, &DataType::Utf8).map_err(|e| corrupt(path, e))?;
            text.as_string::<i32>()
                .iter()
                .map(|v| v.and_then(|s| crate::ts::parse_ts_ms(s, unit)))
                .collect()
        }
    })
}

fn read_batch(
    batch: &RecordBatch,
    names: &[&str; 4],
    first_row: u64,
    out: &mut Collector<'_>,
    path: &Path,
) -> Result<u64, InputError> {
    let users = text_column(batch, names[0], path)?;
    let events = text_column(batch, names[2], path)?;
    let items = text_column(batch, names[3], path)?;
    let ts_col: ArrayRef = batch
        .column_by_name(names[1])
        .cloned()
        .unwrap_or_else(|| Arc::new(arrow_array::Int64Array::new_null(batch.num_rows())));
    let ts = ts_column(&ts_col, out.unit, path)?;
    for (i, ts_ms) in ts.iter().enumerate() {
        let line = first_row + i as u64;
        let user = get(&users, i);
        if user.is_empty() {
            out.reject(line, "empty user_id".to_string())?;
            continue;
        }
        match ts_ms {
            Some(ts_ms) => out.accept(&crate::Event {
                user_id: user,
                ts_ms: *ts_ms,
                event: get(&events, i),
                item: get(&items, i),
            }),
            None if ts_col.is_null(i) => out.reject(line, "missing ts".to_string())?,
            None => out.reject(line, "unparsable ts".to_string())?,
        }
    }
    Ok(first_row + batch.num_rows() as u64)
}

fn get(a: &Option<StringArray>, i: usize) -> &str {
    match a {
        Some(a) if a.is_valid(i) => a.value(i),
        _ => "",
    }
}
