//! Worker side: read one split into an [`EventSink`].

use std::io::Read;
use std::path::Path;

use crate::collect::Collector;
use crate::csv::{parse_header, CsvLayout, CsvParser};
use crate::error::InputError;
use crate::event::EventSink;
use crate::jsonl::JsonlParser;
use crate::options::{ColumnMap, Compression, Format, ReadOptions};
use crate::parquet_read;
use crate::source::Source;
use crate::split::{Split, SplitRange, SplitStats};
use crate::text::{drive, ChunkParser};

/// Worker side: reads one split, calling `sink.accept` for every good row
/// in file order. Bad rows are counted (the first few kept with file:line
/// and reason); with `opts.strict` the first bad row is an
/// [`InputError::BadRow`].
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
        SplitRange::RowGroups { .. } => Err(InputError::StaleSplit {
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
