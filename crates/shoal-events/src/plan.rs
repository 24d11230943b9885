//! Driver side: from the user's inputs to a list of [`Split`]s.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::csv::{parse_header, CsvLayout};
use crate::error::InputError;
use crate::expand::expand_inputs;
use crate::options::{ColumnMap, Compression, Format, ReadOptions};
use crate::parquet_read;
use crate::scan::{scan_cuts, Cut};
use crate::source::Source;
use crate::split::{Split, SplitRange};
use crate::window::GrowingReader;

/// Files planned at once when any input is in a store. Planning a remote
/// file is a few round trips (size, header or footer) spent waiting, not
/// computing: with one file per core, 8 files on 2 cores took 4 round
/// trips in a row per thread, on 16 threads they take one.
const REMOTE_PLANNERS: usize = 16;

/// How uncompressed text files are cut into splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cutting {
    /// Read each file to place cuts on record boundaries with known lines.
    Scan,
    /// Cut at byte offsets without reading past the header.
    Offsets,
}

/// Driver side, once per job: expands files, directories (every file
/// inside, recursively, sorted; names starting with `.` or `_` skipped),
/// globs and `file://` URLs; resolves formats; validates that mapped
/// columns exist (the error lists the columns found); and cuts large
/// uncompressed CSV/JSONL files into byte ranges of about
/// `target_split_bytes` on true record boundaries, Parquet files into
/// row-group ranges. Compressed files are one split each; empty files none.
/// Files are planned in parallel; the result is in input order.
pub fn plan_splits(
    inputs: &[String],
    opts: &ReadOptions,
    target_split_bytes: u64,
) -> Result<Vec<Split>, InputError> {
    plan(inputs, opts, target_split_bytes, Cutting::Scan)
}

/// Like [`plan_splits`], but cuts uncompressed CSV/JSONL files into
/// [`SplitRange::Chunk`]s of about `target_split_bytes` at byte offsets,
/// reading nothing of a file past its header (or, for JSON Lines, its first
/// record): planning costs a few small reads per file however large it is,
/// and each reader finds its own first record. Whoever reads the chunks
/// places them afterwards with [`place_chunks`](crate::place_chunks), which
/// turns their rejections' lines into file lines and checks the readers'
/// guesses of the CSV quote state.
pub fn plan_chunks(
    inputs: &[String],
    opts: &ReadOptions,
    target_split_bytes: u64,
) -> Result<Vec<Split>, InputError> {
    plan(inputs, opts, target_split_bytes, Cutting::Offsets)
}

fn plan(
    inputs: &[String],
    opts: &ReadOptions,
    target_split_bytes: u64,
    cutting: Cutting,
) -> Result<Vec<Split>, InputError> {
    let files = expand_inputs(inputs)?;
    let resolved = files
        .into_iter()
        .map(|path| {
            let (format, compression) = resolve_format(&path, opts.format)?;
            Ok((path, format, compression))
        })
        .collect::<Result<Vec<_>, InputError>>()?;
    let remote = resolved.iter().any(|(path, ..)| is_remote(path));
    let width = match remote {
        true => REMOTE_PLANNERS,
        false => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let planned = parallel_map(&resolved, width, |(path, format, compression)| {
        plan_file(
            path,
            *format,
            *compression,
            &opts.columns,
            target_split_bytes,
            cutting,
        )
    });
    let mut splits = Vec::new();
    for file_splits in planned {
        splits.extend(file_splits?);
    }
    Ok(splits)
}

/// Format and compression of one file, by extension unless forced.
pub(crate) fn resolve_format(
    path: &Path,
    forced: Format,
) -> Result<(Format, Compression), InputError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, compression) = Compression::strip(&name);
    let unknown = |reason: String| InputError::UnknownFormat {
        path: path.to_path_buf(),
        reason,
    };
    let format = match forced {
        Format::Auto => match stem.rsplit_once('.').map(|(_, ext)| ext) {
            Some("csv") => Format::Csv,
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            Some("parquet" | "pq") => Format::Parquet,
            Some(ext) => return Err(unknown(format!("extension `.{ext}`"))),
            None => return Err(unknown("no extension".to_string())),
        },
        other => other,
    };
    if format == Format::Parquet && compression != Compression::None {
        return Err(unknown(
            "compressed Parquet files are not supported".to_string(),
        ));
    }
    Ok((format, compression))
}

fn plan_file(
    path: &Path,
    format: Format,
    compression: Compression,
    columns: &ColumnMap,
    target: u64,
    cutting: Cutting,
) -> Result<Vec<Split>, InputError> {
    let source = Source::of(path)?;
    if format == Format::Parquet {
        return parquet_read::plan(&source, columns, target);
    }
    let size = source.size()?;
    if size == 0 {
        return Ok(Vec::new());
    }
    let whole = |header: Vec<String>| Split {
        path: path.to_path_buf(),
        format,
        compression,
        range: SplitRange::Whole,
        header,
        size_bytes: size,
    };
    let mut reader = open_stream(&source, compression, size)?;
    let (header, start) = if format == Format::Jsonl {
        check_jsonl_keys(&mut reader, path, columns)?;
        (Vec::new(), Cut { offset: 0, line: 1 })
    } else {
        let (header, used, lines) = read_header(&mut reader, path)?;
        CsvLayout::resolve(&header, columns, path)?;
        let start = Cut {
            offset: used as u64,
            line: lines + 1,
        };
        (header, start)
    };
    if compression != Compression::None {
        return Ok(vec![whole(Vec::new())]);
    }
    match cutting {
        Cutting::Scan => byte_splits(&source, format, header, start, size, target),
        Cutting::Offsets => Ok(chunk_splits(path, format, header, start, size, target)),
    }
}

/// Cuts bytes `[start, size)` into about equal chunks of about `target`
/// bytes (a remainder under a quarter of the target is shared out rather
/// than made a chunk of its own, as [`byte_splits`] joins it to the last).
/// Only the first chunk starts on a known record.
fn chunk_splits(
    path: &Path,
    format: Format,
    header: Vec<String>,
    start: Cut,
    size: u64,
    target: u64,
) -> Vec<Split> {
    let target = target.max(1);
    let data = size - start.offset;
    let rest = data % target;
    let count = (data / target + u64::from(rest > 0 && rest >= target / 4)).max(1);
    let cut = |k: u64| start.offset + (u128::from(data) * u128::from(k) / u128::from(count)) as u64;
    (0..count)
        .map(|k| {
            let (from, to) = (cut(k), cut(k + 1));
            Split {
                path: path.to_path_buf(),
                format,
                compression: Compression::None,
                range: SplitRange::Chunk {
                    start: from,
                    end: to,
                    line: (k == 0).then_some(start.line),
                    in_quotes: (k == 0).then_some(false),
                    file_size: Some(size),
                },
                header: header.clone(),
                size_bytes: to - from,
            }
        })
        .collect()
}

fn byte_splits(
    source: &Source,
    format: Format,
    header: Vec<String>,
    start: Cut,
    size: u64,
    target: u64,
) -> Result<Vec<Split>, InputError> {
    let cuts = scan_cuts(source, start, size, target, format == Format::Csv)?;
    let path = source.path();
    let ends = cuts.iter().skip(1).map(|c| c.offset).chain([size]);
    Ok(cuts
        .iter()
        .zip(ends)
        .map(|(cut, end)| Split {
            path: path.to_path_buf(),
            format,
            compression: Compression::None,
            range: SplitRange::Bytes {
                start: cut.offset,
                end,
                first_line: cut.line,
            },
            header: header.clone(),
            size_bytes: end - cut.offset,
        })
        .collect())
}

/// The file's (decompressed) bytes from the start, fetched in growing
/// windows: planning reads only the first few.
fn open_stream<'s>(
    source: &'s Source,
    compression: Compression,
    size: u64,
) -> Result<Box<dyn Read + 's>, InputError> {
    let path = source.path();
    let file = GrowingReader::new(source, 0, size);
    compression
        .decoder(Box::new(file))
        .map_err(|e| InputError::io(path, e))
}

/// Reads more of `reader` into `buf`; returns false at end of input.
fn read_more(reader: &mut dyn Read, buf: &mut Vec<u8>, path: &Path) -> Result<bool, InputError> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if e.get_ref()
                    .is_some_and(|inner| inner.is::<shoal_store::StoreError>()) =>
            {
                return Err(InputError::io(path, e))
            }
            Err(e) => {
                return Err(InputError::Corrupt {
                    path: path.to_path_buf(),
                    format: "compressed",
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// The CSV header: names, bytes used, physical lines spanned.
fn read_header(
    reader: &mut dyn Read,
    path: &Path,
) -> Result<(Vec<String>, usize, u64), InputError> {
    let mut buf = Vec::new();
    loop {
        let more = read_more(reader, &mut buf, path)?;
        if let Some(found) = parse_header(&buf, !more, path)? {
            return Ok(found);
        }
    }
}

/// Checks the mapped keys against the first non-blank JSONL line when it is
/// a JSON object (a bad first line is left to the reader to reject).
fn check_jsonl_keys(
    reader: &mut dyn Read,
    path: &Path,
    columns: &ColumnMap,
) -> Result<(), InputError> {
    let mut buf = Vec::new();
    let mut from = 0;
    let line = loop {
        let more = read_more(reader, &mut buf, path)?;
        let mut found = None;
        while let Some(k) = memchr::memchr(b'\n', &buf[from..]) {
            let line = &buf[from..from + k];
            from += k + 1;
            if !line.trim_ascii().is_empty() {
                found = Some(line.to_vec());
                break;
            }
        }
        if let Some(line) = found {
            break line;
        }
        if !more {
            break buf[from..].to_vec();
        }
    };
    let Ok(object) = serde_json::from_slice::<Map<String, Value>>(&line) else {
        return Ok(());
    };
    for (role, column) in columns.required() {
        if !object.contains_key(column) {
            return Err(InputError::MissingColumn {
                path: path.to_path_buf(),
                role,
                column: column.to_string(),
                found: object.keys().cloned().collect(),
            });
        }
    }
    Ok(())
}

/// Whether a planned file is an object in a store.
fn is_remote(path: &Path) -> bool {
    shoal_store::inputs::is_store_url(&path.to_string_lossy())
}

/// Runs `f` over `items` on up to `width` threads, results in input order.
fn parallel_map<T: Sync, R: Send>(items: &[T], width: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = width.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
