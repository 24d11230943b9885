//! Reads inputs single-threaded and prints parse throughput:
//! `cargo run --release -p shoal-events --example read_speed -- DIR [REPEATS] [csv|jsonl|parquet]`.
//! A missing DIR is first filled with 2M generated events of that format.
//! Run under `perf stat -e task-clock` to get MB per CPU-second on a busy
//! machine.

use std::time::Instant;

use shoal_events::{generate, plan_splits, read_split, Event, GenFormat, GenOptions, ReadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = args.next().ok_or("usage: read_speed INPUT [REPEATS]")?;
    let repeats: u32 = args.next().map_or(Ok(3), |r| r.parse())?;
    let format: GenFormat = args.next().map_or(Ok(GenFormat::Csv), |f| f.parse())?;
    if !std::path::Path::new(&input).exists() {
        let gen = GenOptions {
            format,
            ..GenOptions::with_events(2_000_000)
        };
        let summary = generate(input.as_ref(), &gen)?;
        println!(
            "generated {} bytes in {:.2} s",
            summary.bytes, summary.seconds
        );
    }
    let opts = ReadOptions::default();
    let splits = plan_splits(&[input], &opts, 64 << 20)?;
    let bytes: u64 = splits.iter().map(|s| s.size_bytes).sum();
    let started = Instant::now();
    let mut rows = 0u64;
    let mut acc = 0i64;
    for _ in 0..repeats {
        for split in &splits {
            let mut sink = |e: &Event<'_>| {
                rows += 1;
                acc = acc.wrapping_add(e.ts_ms ^ e.user_id.len() as i64 ^ e.item.len() as i64);
            };
            read_split(split, &opts, &mut sink)?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mb = (bytes * u64::from(repeats)) as f64 / 1e6;
    println!(
        "{rows} rows, {mb:.1} MB in {secs:.2} s wall: {:.0} MB/s (checksum {acc})",
        mb / secs
    );
    Ok(())
}
