//! Parquet interoperability with DuckDB, both ways: files DuckDB writes
//! (Snappy and ZSTD, small row groups, nullable columns, several files)
//! read back equal to the rows they were made from, and a `save_parquet`
//! directory read by DuckDB with the types and sums Shoal wrote.
//!
//! DuckDB runs from the peers' virtualenv (tests/crosscheck/peers_env.sh:
//! `SHOAL_PEERS_VENV`, default `.venv-peers` at the repository's top),
//! created with DuckDB in it when missing, as the cross-check does.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::plain;

/// Rows in each file DuckDB writes; several row groups each.
const ROWS: u64 = 30_000;

/// The peers' Python with DuckDB, the virtualenv created when missing.
fn peers_python() -> PathBuf {
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/crosscheck/peers_env.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1" && shoal_peers_python duckdb >&2 && echo "$PY""#)
        .arg("peers_env")
        .arg(&helper)
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "cannot set up DuckDB in the peers' virtualenv: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs `sql` (statements separated by `;`) in DuckDB; returns the rows
/// of the last one as JSON lines of values.
fn duckdb(python: &Path, sql: &str) -> Vec<serde_json::Value> {
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET threads = 2")
rows = []
for statement in [s for s in sys.argv[1].split(';') if s.strip()]:
    rows = con.execute(statement).fetchall()
for row in rows:
    print(json.dumps([v if isinstance(v, (int, float, str, bool, type(None))) else str(v) for v in row]))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(sql)
        .output()
        .expect("running the peers' Python");
    assert!(
        out.status.success(),
        "DuckDB failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The row DuckDB's query below makes from `i`.
type Row = (
    i64,
    u64,
    f64,
    String,
    bool,
    Option<f64>,
    i32,
    Option<String>,
);

fn expected_row(i: u64) -> Row {
    (
        i as i64 - 1000,
        i * 3,
        i as f64 / 4.0,
        format!("name-{i}"),
        i.is_multiple_of(2),
        (!i.is_multiple_of(5)).then_some(i as f64 * 1.5),
        (i % 1000) as i32,
        (!i.is_multiple_of(7)).then(|| "é".repeat((i % 4) as usize)),
    )
}

const COLUMNS: [&str; 8] = ["id", "u", "x", "s", "even", "maybe", "small", "text"];

/// DuckDB's rows `from..from + ROWS`, as the table of [`expected_row`].
fn select(from: u64) -> String {
    format!(
        "SELECT (i - 1000)::BIGINT AS id, (i * 3)::UBIGINT AS u, i / 4.0::DOUBLE AS x, \
         'name-' || i AS s, i % 2 = 0 AS even, \
         CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.5::DOUBLE END AS maybe, \
         (i % 1000)::INTEGER AS small, \
         CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('é', (i % 4)::INTEGER) END AS text \
         FROM range({from}, {}) t(i) ORDER BY i",
        from + ROWS
    )
}

#[test]
fn parquet_written_by_duckdb_reads_back_equal_and_duckdb_reads_what_shoal_writes() {
    let python = peers_python();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("from-duckdb");
    std::fs::create_dir(&input).unwrap();
    let file = |name: &str| input.join(name).to_string_lossy().into_owned();
    let (a, b) = (file("a.parquet"), file("b.parquet"));
    duckdb(
        &python,
        &format!(
            "COPY ({}) TO '{a}' (FORMAT parquet, ROW_GROUP_SIZE 4096); \
             COPY ({}) TO '{b}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000)",
            select(0),
            select(ROWS)
        ),
    );

    let s = plain(2);
    let glob = format!("{}/*.parquet", input.display());
    let read = s.parquet::<Row>(&glob, &COLUMNS).unwrap();
    let want: Vec<Row> = (0..2 * ROWS).map(expected_row).collect();
    assert_eq!(read.len().unwrap(), 2 * ROWS);
    let got = read.collect().unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "row {i}");
    }
    // DuckDB marks every column nullable: one with nulls read as a plain
    // value is an error naming it, never a silent default.
    let nulls = s
        .parquet::<f64>(&b, &["maybe"])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(nulls.is_user_input(), "{nulls}");
    assert!(
        nulls
            .to_string()
            .contains("column 'maybe' is null in row 0"),
        "{nulls}"
    );

    // The other way: what Shoal writes, DuckDB reads with Shoal's types.
    let out = dir.path().join("from-shoal").to_string_lossy().into_owned();
    s.from_vec(want.clone(), 5)
        .save_parquet(&out, &COLUMNS)
        .unwrap();
    let types = duckdb(
        &python,
        &format!("DESCRIBE SELECT * FROM read_parquet('{out}/*.parquet')"),
    );
    let types: Vec<(String, String)> = types
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().into(),
                row[1].as_str().unwrap().into(),
            )
        })
        .collect();
    let want_types = [
        "BIGINT", "UBIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "DOUBLE", "INTEGER", "VARCHAR",
    ];
    let want_types: Vec<(String, String)> = COLUMNS
        .iter()
        .zip(want_types)
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    assert_eq!(types, want_types);
    let sums = duckdb(
        &python,
        &format!(
            "SELECT count(*), sum(id), sum(u)::BIGINT, sum(x), sum(length(s)), \
             count(*) FILTER (WHERE even), count(maybe), sum(maybe), sum(small), \
             count(text), sum(length(text)) \
             FROM read_parquet('{out}/*.parquet')"
        ),
    );
    let n = want.len() as u64;
    let expected = serde_json::json!([
        n,
        want.iter().map(|r| r.0).sum::<i64>(),
        want.iter().map(|r| r.1).sum::<u64>(),
        want.iter().map(|r| r.2).sum::<f64>(),
        want.iter().map(|r| r.3.chars().count() as u64).sum::<u64>(),
        want.iter().filter(|r| r.4).count(),
        want.iter().filter(|r| r.5.is_some()).count(),
        want.iter().filter_map(|r| r.5).sum::<f64>(),
        want.iter().map(|r| r.6 as i64).sum::<i64>(),
        want.iter().filter(|r| r.7.is_some()).count(),
        want.iter()
            .filter_map(|r| r.7.as_ref())
            .map(|t| t.chars().count() as u64)
            .sum::<u64>(),
    ]);
    assert_eq!(sums, vec![expected]);
}
