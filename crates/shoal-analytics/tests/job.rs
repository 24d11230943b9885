//! The `analyze` job end to end on the embedded executor: reading real
//! CSV/JSONL/Parquet files, and the report's independence from format,
//! thread count, partition count, file split and row order.

use std::path::Path;
use std::sync::Arc;

use shoal_analytics::job::{AnalyzeJob, AnalyzeOutput, AnalyzeParams};
use shoal_analytics::{analyze_rows, AnalyzeConfig};
use shoal_core::{
    run_job, EmbeddedConfig, EmbeddedExecutor, JobError, JobSpec, NoProgress, Registry,
};
use shoal_events::ReadOptions;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

type Row = (String, i64, String, String);

/// Deterministic rows with funnels, sessions, midnight crossings, unicode,
/// quotes and commas, empty items and exact duplicates.
fn rows(n: usize) -> Vec<Row> {
    let events = ["view", "view", "view", "cart", "purchase", "search"];
    let items = ["", "i-1", "i-2", "Käse, \"alt\"", "日本", "i-3", "a\"b"];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = next();
        let user = format!("user-{}{}", r % 97, if r % 5 == 0 { "é" } else { "" });
        let ts = T0 + (r >> 8) as i64 % (9 * 86_400_000) / 1000 * 1000 + (i as i64 % 7);
        let event = events[(r >> 20) as usize % events.len()];
        let item = items[(r >> 30) as usize % items.len()];
        out.push((user, ts, event.to_string(), item.to_string()));
        if i % 50 == 0 {
            out.push(out[out.len() - 1].clone());
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut s = String::from("user_id,ts,event,item\n");
    for (u, ts, e, i) in rows {
        s.push_str(&format!(
            "{},{ts},{},{}\n",
            csv_field(u),
            csv_field(e),
            csv_field(i)
        ));
    }
    std::fs::write(path, s).unwrap();
}

fn write_jsonl(path: &Path, rows: &[Row]) {
    let mut s = String::new();
    for (u, ts, e, i) in rows {
        let v = serde_json::json!({"user_id": u, "ts": ts, "event": e, "item": i});
        s.push_str(&v.to_string());
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn write_parquet(path: &Path, rows: &[Row]) {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let col = |f: fn(&Row) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let batch = RecordBatch::try_from_iter([
        ("user_id", col(|r| &r.0)),
        (
            "ts",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
        ("event", col(|r| &r.2)),
        ("item", col(|r| &r.3)),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn run(
    inputs: &[&Path],
    threads: usize,
    partitions: Option<u32>,
    read: ReadOptions,
) -> Result<AnalyzeOutput, JobError> {
    let params = AnalyzeParams {
        inputs: inputs
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        read,
        config: AnalyzeConfig::default(),
        partitions,
        ..Default::default()
    };
    let executor = EmbeddedExecutor::new(EmbeddedConfig {
        threads,
        ..Default::default()
    });
    let registry = Registry::new().with(Arc::new(AnalyzeJob));
    let spec = JobSpec::new("analyze", serde_json::to_value(params).unwrap());
    let out = run_job(&executor, &registry, spec, &NoProgress)?;
    Ok(AnalyzeOutput::from_bytes(&out.results[0]).unwrap())
}

fn json(inputs: &[&Path], threads: usize, partitions: Option<u32>) -> String {
    run(inputs, threads, partitions, ReadOptions::default())
        .unwrap()
        .report
        .to_json()
}

fn in_memory(rows: &[Row]) -> String {
    let refs: Vec<(&str, i64, &str, &str)> = rows
        .iter()
        .map(|(u, t, e, i)| (u.as_str(), *t, e.as_str(), i.as_str()))
        .collect();
    analyze_rows(&refs, &AnalyzeConfig::default(), 5)
        .unwrap()
        .to_json()
}

#[test]
fn same_json_from_csv_jsonl_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(3000);
    let (csv, jsonl, pq) = (
        dir.path().join("a.csv"),
        dir.path().join("a.jsonl"),
        dir.path().join("a.parquet"),
    );
    write_csv(&csv, &rows);
    write_jsonl(&jsonl, &rows);
    write_parquet(&pq, &rows);
    let expected = in_memory(&rows);
    assert_eq!(json(&[&csv], 2, None), expected);
    assert_eq!(json(&[&jsonl], 2, None), expected);
    assert_eq!(json(&[&pq], 2, None), expected);
    assert!(expected.contains("\"Käse, \\\"alt\\\"\""), "{expected}");
    assert!(expected.contains("\"rejected\": 0"));
}

#[test]
fn same_json_from_1_or_8_threads_and_any_partition_count() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(4000);
    let csv = dir.path().join("a.csv");
    write_csv(&csv, &rows);
    let one = json(&[&csv], 1, Some(1));
    assert_eq!(json(&[&csv], 8, None), one);
    assert_eq!(json(&[&csv], 8, Some(37)), one);
    assert_eq!(json(&[&csv], 3, Some(2)), one);
}

#[test]
fn same_json_from_1_or_100_files_in_any_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(3000);
    let single = dir.path().join("one.csv");
    write_csv(&single, &rows);
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let mut shuffled = rows.clone();
    shuffled.reverse();
    shuffled.rotate_left(1234);
    let mut files = vec![Vec::new(); 100];
    for (i, row) in shuffled.into_iter().enumerate() {
        files[(i * 7) % 100].push(row);
    }
    for (k, chunk) in files.iter().enumerate() {
        write_csv(&parts.join(format!("part-{k:03}.csv")), chunk);
    }
    assert_eq!(std::fs::read_dir(&parts).unwrap().count(), 100);
    assert_eq!(json(&[&parts], 4, None), json(&[&single], 4, None));
}

#[test]
fn bad_rows_are_counted_and_sampled_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    let body = format!("user_id,ts,event,item\nu1,{T0},view,i\n,{T0},view,i\nu2,not-a-time,view,i\nu3,{T0},view\nu4,{T0},cart,\n");
    std::fs::write(&csv, body).unwrap();
    let out = run(&[&csv], 2, None, ReadOptions::default()).unwrap();
    assert_eq!(out.report.events, 2);
    assert_eq!(out.report.rejected, 3);
    assert_eq!(out.rejects.len(), 3);
    let first = &out.rejects[0];
    assert!(first.location.ends_with("bad.csv:3"), "{first:?}");

    let strict = ReadOptions {
        strict: true,
        ..Default::default()
    };
    let err = run(&[&csv], 2, None, strict).unwrap_err();
    assert!(err.is_user_input(), "{err}");
    assert!(
        err.user_message().contains("bad.csv:3"),
        "{}",
        err.user_message()
    );
}

#[test]
fn header_only_input_gives_a_valid_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("empty.csv");
    std::fs::write(&csv, "user_id,ts,event,item\n").unwrap();
    let out = run(&[&csv], 2, None, ReadOptions::default()).unwrap();
    assert_eq!(out.report.to_json(), in_memory(&[]));
}

#[test]
fn missing_input_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(
        &[&dir.path().join("nope.csv")],
        1,
        None,
        ReadOptions::default(),
    )
    .unwrap_err();
    assert!(err.is_user_input(), "{err}");
    assert!(
        err.user_message().contains("nope.csv"),
        "{}",
        err.user_message()
    );
}
