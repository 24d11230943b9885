//! Writing generated rows as CSV, JSON Lines or Parquet.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::model::{Row, KIND_NAMES, NO_ITEM};
use super::GenFormat;
use crate::error::GenError;

/// 2026-01-01T00:00:00Z: day 0 of every generated data set.
pub(crate) const EPOCH_MS: i64 = 1_767_225_600_000;
/// Bytes buffered before each write of the text formats.
const FLUSH_AT: usize = 4 << 20;
/// Rows per Parquet row group: several per file, so files split.
const ROW_GROUP: usize = 256 * 1024;

/// How ids are spelled: `u000123`, `item-42`.
pub(crate) struct Names {
    pub(crate) user_width: usize,
}

impl Names {
    fn push_user(&self, buf: &mut Vec<u8>, user: u32) {
        buf.push(b'u');
        push_padded(buf, u64::from(user), self.user_width);
    }

    fn push_item(buf: &mut Vec<u8>, item: u32) {
        if item != NO_ITEM {
            buf.extend_from_slice(b"item-");
            push_padded(buf, u64::from(item), 1);
        }
    }
}

/// Decimal digits of `v`, left-padded with zeros to `width`.
fn push_padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in (digits.len() - i)..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_padded(buf, v.unsigned_abs(), 1);
}

/// Writes `rows` (time-ordered) to `path`; returns the bytes written.
pub(crate) fn write_rows(
    path: &Path,
    format: GenFormat,
    names: &Names,
    rows: &[Row],
) -> Result<u64, GenError> {
    match format {
        GenFormat::Csv | GenFormat::Jsonl => write_text(path, format, names, rows),
        GenFormat::Parquet => write_parquet(path, names, rows),
    }
    .map_err(|e| match e {
        WriteError::Io(source) => GenError::Io {
            path: path.to_path_buf(),
            source,
        },
        WriteError::Parquet(reason) => GenError::Parquet {
            path: path.to_path_buf(),
            reason,
        },
    })?;
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| GenError::Io {
            path: path.to_path_buf(),
            source,
        })
}

enum WriteError {
    Io(std::io::Error),
    Parquet(String),
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

fn write_text(
    path: &Path,
    format: GenFormat,
    names: &Names,
    rows: &[Row],
) -> Result<(), WriteError> {
    let mut file = File::create(path)?;
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    let csv = format == GenFormat::Csv;
    if csv {
        buf.extend_from_slice(b"user_id,ts,event,item\n");
    }
    for row in rows {
        if csv {
            names.push_user(&mut buf, row.user);
            buf.push(b',');
            push_i64(&mut buf, EPOCH_MS + row.ts);
            buf.push(b',');
            buf.extend_from_slice(KIND_NAMES[row.kind as usize].as_bytes());
            buf.push(b',');
            Names::push_item(&mut buf, row.item);
            buf.push(b'\n');
        } else {
            buf.extend_from_slice(b"{\"user_id\":\"");
            names.push_user(&mut buf, row.user);
            buf.extend_from_slice(b"\",\"ts\":");
            push_i64(&mut buf, EPOCH_MS + row.ts);
            buf.extend_from_slice(b",\"event\":\"");
            buf.extend_from_slice(KIND_NAMES[row.kind as usize].as_bytes());
            buf.extend_from_slice(b"\",\"item\":\"");
            Names::push_item(&mut buf, row.item);
            buf.extend_from_slice(b"\"}\n");
        }
        if buf.len() >= FLUSH_AT {
            file.write_all(&buf)?;
            buf.clear();
        }
    }
    file.write_all(&buf)?;
    Ok(())
}

fn write_parquet(path: &Path, names: &Names, rows: &[Row]) -> Result<(), WriteError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("item", DataType::Utf8, false),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let file = File::create(path)?;
    let perr = |e: parquet::errors::ParquetError| WriteError::Parquet(e.to_string());
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(perr)?;
    let mut scratch = Vec::new();
    for chunk in rows.chunks(ROW_GROUP) {
        let mut text = |f: &dyn Fn(&mut Vec<u8>, &Row)| -> ArrayRef {
            let mut builder = StringBuilder::with_capacity(chunk.len(), chunk.len() * 12);
            for r in chunk {
                scratch.clear();
                f(&mut scratch, r);
                builder.append_value(std::str::from_utf8(&scratch).unwrap_or_default());
            }
            Arc::new(builder.finish())
        };
        let users = text(&|b, r| names.push_user(b, r.user));
        let items = text(&|b, r| Names::push_item(b, r.item));
        let events: ArrayRef = Arc::new(StringArray::from_iter_values(
            chunk.iter().map(|r| KIND_NAMES[r.kind as usize]),
        ));
        let ts: ArrayRef = Arc::new(Int64Array::from_iter_values(
            chunk.iter().map(|r| EPOCH_MS + r.ts),
        ));
        let batch = RecordBatch::try_new(schema.clone(), vec![users, ts, events, items])
            .map_err(|e| WriteError::Parquet(e.to_string()))?;
        writer.write(&batch).map_err(perr)?;
    }
    writer.close().map_err(perr)?;
    Ok(())
}
