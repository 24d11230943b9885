//! Single-core parse throughput (MB/s of file bytes) for generated CSV,
//! JSONL and Parquet, and generator throughput. `cargo bench -p shoal-events`.
//!
//! The sink only counts and sums, so the figures are the reader's cost:
//! the budget is ≥ 400 MB/s per core for CSV into `Event`s.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shoal_events::{
    generate, plan_splits, read_split, Event, GenFormat, GenOptions, ReadOptions, Split,
};

const EVENTS: u64 = 1_000_000;

fn data(dir: &Path, format: GenFormat) -> (Vec<Split>, u64) {
    let opts = GenOptions {
        files: 2,
        format,
        ..GenOptions::with_events(EVENTS)
    };
    let sub = dir.join(format!("{format:?}"));
    let summary = generate(&sub, &opts).expect("generate");
    let inputs = vec![sub.display().to_string()];
    let splits = plan_splits(&inputs, &ReadOptions::default(), 16 << 20).expect("plan");
    (splits, summary.bytes)
}

fn read_all(splits: &[Split]) -> (u64, i64) {
    let opts = ReadOptions::default();
    let mut n = 0u64;
    let mut acc = 0i64;
    let mut sink = |e: &Event<'_>| {
        n += 1;
        acc = acc.wrapping_add(e.ts_ms ^ e.user_id.len() as i64 ^ e.item.len() as i64);
    };
    for split in splits {
        read_split(split, &opts, &mut sink).expect("read");
    }
    (n, acc)
}

fn parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    for format in [GenFormat::Csv, GenFormat::Jsonl, GenFormat::Parquet] {
        let (splits, bytes) = data(dir.path(), format);
        assert_eq!(read_all(&splits).0, EVENTS);
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(format!("{format:?}"), |b| {
            b.iter(|| black_box(read_all(&splits)))
        });
    }
    group.finish();
}

fn gen(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    for format in [GenFormat::Csv, GenFormat::Parquet] {
        let opts = GenOptions {
            format,
            ..GenOptions::with_events(EVENTS)
        };
        group.bench_function(format!("{format:?}"), |b| {
            b.iter(|| generate(dir.path(), &opts).expect("generate"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse, gen);
criterion_main!(benches);
