//! Worker side: read one split into an [`EventSink`].

use std::io::Read;
use std::path::Path;

use crate::chunk::{exact_counts, read_chunk, ChunkBounds, ChunkStart};
use crate::collect::Collector;
use crate::csv::{parse_header, CsvLayout, CsvParser};
use crate::error::InputError;
use crate::event::EventSink;
use crate::jsonl::JsonlParser;
use crate::options::{ColumnMap, Compression, Format, ReadOptions};
use crate::parquet_read;
use crate::source::Source;
use crate::split::{ChunkSummary, Split, SplitRange, SplitStats};
use crate::text::{drive, ChunkParser};

/// Worker side: reads one split, calling `sink.accept` for every good row
/// in file order. Bad rows are counted (the first few kept with file:line
/// and reason); with `opts.strict` the first bad row is an
/// [`InputError::BadRow`] naming its file line.
///
/// A chunk split ([`SplitRange::Chunk`]) also reports what its bytes hold
/// ([`SplitStats::chunk`]); its rejections count lines from the chunk's
/// first byte until [`place_chunks`](crate::place_chunks) places it.
pub fn read_split(
    split: &Split,
    opts: &ReadOptions,
    sink: &mut dyn EventSink,
) -> Result<SplitStats, InputError> {
    let file = split.path.display().to_string();
    let mut out = Collector::new(sink, file, opts.strict, opts.ts_unit);
    match split.format {
        Format::Csv | Format::Jsonl => read_text(split, &opts.columns, &mut out)?,
        Format::Parquet => parquet_read::read(split, &opts.columns, &mut out)?,
        Format::Auto => {
            return Err(InputError::StaleSplit {
                path: split.path.clone(),
                what: "format (unresolved auto)".to_string(),
            })
        }
    }
    out.stats.bytes = split.size_bytes;
    Ok(out.stats)
}

fn read_text(
    split: &Split,
    columns: &ColumnMap,
    out: &mut Collector<'_>,
) -> Result<(), InputError> {
    if let SplitRange::Chunk {
        start,
        end,
        line,
        in_quotes,
        file_size,
    } = split.range
    {
        let first = ChunkStart {
            is_record: line.is_some(),
            in_quotes,
            csv: split.format == Format::Csv,
        };
        let bounds = (start, end, file_size);
        return read_chunk_split(split, bounds, line, first, columns, out);
    }
    let path = split.path.as_path();
    let (reader, limit, first_line, label) = open_text(split)?;
    let csv = split.format == Format::Csv;
    match (&split.range, csv) {
        (SplitRange::Bytes { .. }, true) => {
            let layout = CsvLayout::resolve(&split.header, columns, path)?;
            let mut parser = CsvParser::new(layout, first_line, out);
            drive(reader, limit, path, label, &mut parser)
        }
        (_, true) => {
            let mut parser = CsvWhole::Header {
                columns,
                path,
                out: Some(out),
            };
            drive(reader, limit, path, label, &mut parser)
        }
        (_, false) => {
            let mut parser = JsonlParser::new(columns, first_line, out);
            drive(reader, limit, path, label, &mut parser)
        }
    }
}

/// Reads a chunk split (`start`, `end` and the file's size if planned); in
/// strict mode, a bad row's error names its file line (see
/// [`strict_failure`]).
fn read_chunk_split(
    split: &Split,
    (start, end, planned_size): (u64, u64, Option<u64>),
    line: Option<u64>,
    first: ChunkStart,
    columns: &ColumnMap,
    out: &mut Collector<'_>,
) -> Result<(), InputError> {
    let path = split.path.as_path();
    let source = Source::of(path)?;
    let size = match (&source, planned_size) {
        // Asking an object store is a round trip before any data; a file
        // that changed since planning still fails, on a short read.
        (Source::Remote { .. }, Some(planned)) => planned,
        _ => source.size()?,
    };
    if end > size || start > end || split.compression != Compression::None {
        return Err(InputError::StaleSplit {
            path: path.to_path_buf(),
            what: format!("chunk {start}..{end} (file has {size} bytes)"),
        });
    }
    let bounds = ChunkBounds { start, end, size };
    let mut summary = ChunkSummary::default();
    let read = if first.csv {
        let layout = CsvLayout::resolve(&split.header, columns, path)?;
        read_chunk(&source, bounds, first, &mut summary, |line| {
            CsvParser::new(layout, line, &mut *out)
        })
    } else {
        read_chunk(&source, bounds, first, &mut summary, |line| {
            JsonlParser::new(columns, line, &mut *out)
        })
    };
    match read {
        Ok(()) => {
            out.stats.chunk = Some(summary);
            Ok(())
        }
        Err(InputError::BadRow {
            file,
            line: at,
            reason,
        }) => {
            let bad = BadRow { file, at, reason };
            let assumed = first.csv.then_some(summary.in_quotes);
            strict_failure(&source, bounds, line, assumed, bad, out)
        }
        Err(other) => Err(other),
    }
}

/// A bad row met in strict mode, its line counted from the chunk's start.
struct BadRow {
    file: String,
    at: u64,
    reason: String,
}

/// Turns a chunk's first bad row into the error naming its file line. A
/// file's first chunk knows its line; any other reads the bytes before it
/// (only now, on the way out) for its line and true quote state. When the
/// quote state was guessed wrong the row is not the file's: the chunk then
/// reports its true summary instead, and the caller's check
/// ([`place_chunks`](crate::place_chunks)) has the splits read again.
fn strict_failure(
    source: &Source,
    bounds: ChunkBounds,
    line: Option<u64>,
    assumed: Option<bool>,
    bad: BadRow,
    out: &mut Collector<'_>,
) -> Result<(), InputError> {
    let fail = |first_line: u64| InputError::BadRow {
        file: bad.file.clone(),
        line: first_line + bad.at,
        reason: bad.reason.clone(),
    };
    if let Some(line) = line {
        return Err(fail(line));
    }
    let (before, within) = exact_counts(source, bounds.start, bounds.end)?;
    if let Some(assumed) = assumed.filter(|&a| a != before.odd_quotes) {
        out.stats.chunk = Some(ChunkSummary {
            in_quotes: assumed,
            ..within
        });
        return Ok(());
    }
    Err(fail(1 + before.newlines))
}

/// The byte source of a text split: reader, byte limit, first line, and
/// the label for decoder errors.
type TextSource = (Box<dyn Read>, u64, u64, &'static str);

fn open_text(split: &Split) -> Result<TextSource, InputError> {
    let path = split.path.as_path();
    let source = Source::of(path)?;
    match split.range {
        SplitRange::Bytes {
            start,
            end,
            first_line,
        } => {
            let len = source.size()?;
            if end > len || start > end || split.compression != Compression::None {
                return Err(InputError::StaleSplit {
                    path: path.to_path_buf(),
                    what: format!("byte range {start}..{end} (file has {len} bytes)"),
                });
            }
            let reader = source.open_range(start, end)?;
            Ok((reader, end - start, first_line, "text"))
        }
        SplitRange::Whole => {
            let file = source.open()?;
            let kind = match split.compression {
                Compression::None => "text",
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            };
            let reader = split
                .compression
                .decoder(file)
                .map_err(|e| InputError::io(path, e))?;
            Ok((reader, u64::MAX, 1, kind))
        }
        SplitRange::Chunk { .. } | SplitRange::RowGroups { .. } => Err(InputError::StaleSplit {
            path: path.to_path_buf(),
            what: "range (row groups for a text file)".to_string(),
        }),
    }
}

/// A whole CSV stream: the header record first, then data.
enum CsvWhole<'c, 's, 'o> {
    Header {
        columns: &'o ColumnMap,
        path: &'o Path,
        out: Option<&'c mut Collector<'s>>,
    },
    Body(CsvParser<'c, 's>),
}

impl ChunkParser for CsvWhole<'_, '_, '_> {
    fn parse(&mut self, data: &[u8], eof: bool) -> Result<usize, InputError> {
        match self {
            CsvWhole::Body(parser) => parser.parse(data, eof),
            CsvWhole::Header { columns, path, out } => {
                let Some((header, used, lines)) = parse_header(data, eof, path)? else {
                    return Ok(0);
                };
                let layout = CsvLayout::resolve(&header, columns, path)?;
                let Some(out) = out.take() else {
                    return Ok(used);
                };
                let mut parser = CsvParser::new(layout, lines + 1, out);
                let rest = parser.parse(&data[used..], eof)?;
                *self = CsvWhole::Body(parser);
                Ok(used + rest)
            }
        }
    }
}
