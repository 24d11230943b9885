//! `Session::parquet` and `save_parquet`: round trips of every column
//! type, projection, re-saving, store URLs, and the errors a user meets.

mod common;

use common::{config, partitions, plain, session, threads};
use proptest::prelude::*;
use shoal_array::parquet::{ParquetManifest, PARQUET_MANIFEST};
use shoal_array::ArrayError;
use shoal_store::Store;
use shoal_testkit::S3Server;

/// One row of every column type, nulls included.
type Wide = (
    u64,
    i32,
    String,
    Option<f64>,
    bool,
    Option<String>,
    Vec<u8>,
    Option<u8>,
);
const WIDE: [&str; 8] = [
    "id", "delta", "name", "score", "flag", "note", "blob", "small",
];

fn wide_row() -> impl Strategy<Value = Wide> + Clone {
    (
        any::<u64>(),
        any::<i32>(),
        ".{0,6}",
        any::<Option<f64>>()
            .prop_filter("NaN never equals itself", |x| !x.is_some_and(f64::is_nan)),
        any::<bool>(),
        proptest::option::of("[a-z]{0,3}"),
        prop::collection::vec(any::<u8>(), 0..4),
        any::<Option<u8>>(),
    )
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn every_column_type_round_trips(parts in partitions(wide_row(), 20), t in threads()) {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("wide").to_string_lossy().into_owned();
        let s = plain(t);
        let manifest = s.from_partitions(parts.clone()).save_parquet(&url, &WIDE).unwrap();
        let lengths: Vec<u64> = parts.iter().map(|p| p.len() as u64).collect();
        prop_assert_eq!(&manifest.rows, &lengths);
        prop_assert_eq!(manifest.files.len(), parts.len());

        let all = parts.concat();
        let back = s.parquet::<Wide>(&url, &WIDE).unwrap();
        prop_assert_eq!(back.len().unwrap(), all.len() as u64);
        prop_assert_eq!(back.collect().unwrap(), all.clone());

        // A projection, in another order than the file's, one column twice.
        let some = s.parquet::<(Option<String>, u64, u64)>(&url, &["note", "id", "id"]).unwrap();
        let want: Vec<_> = all.iter().map(|r| (r.5.clone(), r.0, r.0)).collect();
        prop_assert_eq!(some.collect().unwrap(), want);
        // One column as a plain value.
        let names = s.parquet::<String>(&url, &["name"]).unwrap();
        let want: Vec<String> = all.iter().map(|r| r.2.clone()).collect();
        prop_assert_eq!(names.collect().unwrap(), want);
    }
}

#[test]
fn a_directory_is_read_through_its_manifest_and_a_resave_replaces_the_parts() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().to_string_lossy().into_owned();
    let s = plain(2);
    let first = s
        .from_partitions(vec![vec![1u64, 2], vec![], vec![3]])
        .save_parquet(&url, &["x"])
        .unwrap();
    assert_eq!(first.rows, vec![2, 0, 1]);
    let second = s
        .from_partitions(vec![vec![7u64], vec![8, 9]])
        .save_parquet(&url, &["x"])
        .unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut want = second.files.clone();
    want.push(PARQUET_MANIFEST.to_string());
    want.sort();
    assert_eq!(on_disk, want, "the first save's parts are gone");
    let json = std::fs::read(dir.path().join(PARQUET_MANIFEST)).unwrap();
    let manifest: ParquetManifest = serde_json::from_slice(&json).unwrap();
    assert_eq!(manifest, second);
    assert_eq!(manifest.columns[0].data_type, "UInt64");
    assert!(!manifest.columns[0].nullable);

    assert_eq!(
        s.parquet::<u64>(&url, &["x"]).unwrap().collect().unwrap(),
        vec![7, 8, 9]
    );
    // A glob reads the files themselves, the manifest passed by.
    let glob = format!("{url}/*.parquet");
    let mut all = s.parquet::<u64>(&glob, &["x"]).unwrap().collect().unwrap();
    all.sort();
    assert_eq!(all, vec![7, 8, 9]);
}

#[test]
fn partitions_beyond_the_memory_budget_are_saved_through_the_work_directory() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = dir.path().join("big").to_string_lossy().into_owned();
    // A budget of 0 bytes: every part file is spooled to disk.
    let s = session(2, 0, work.path().to_str().unwrap());
    let rows: Vec<(u64, String)> = (0..50_000u64).map(|i| (i, format!("{i:x}"))).collect();
    let manifest = s
        .from_vec(rows.clone(), 3)
        .save_parquet(&url, &["n", "hex"])
        .unwrap();
    assert_eq!(manifest.rows.iter().sum::<u64>(), 50_000);
    let back = s.parquet::<(u64, String)>(&url, &["n", "hex"]).unwrap();
    assert_eq!(back.collect().unwrap(), rows);
    let left: Vec<_> = std::fs::read_dir(work.path())
        .map(|entries| entries.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spill files are gone: {left:?}");
}

#[test]
fn arrays_round_trip_through_memory_and_s3_stores() {
    let server = S3Server::start();
    server.create_bucket("tables");
    // The only test in this binary that configures the process.
    shoal_store::configure(server.options());
    let s = plain(2);
    // Parts larger than the 64 KiB tail a reader fetches first: s3s-fs
    // fails a suffix range longer than the object (S3 itself clamps it).
    let rows: Vec<(u64, String)> = (0..30_000u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), format!("row {i}")))
        .collect();
    for url in [
        format!("memory://parquet-{}/t", std::process::id()),
        "s3://tables/runs/t".to_string(),
    ] {
        let manifest = s
            .from_vec(rows.clone(), 3)
            .save_parquet(&url, &["n", "label"])
            .unwrap();
        assert_eq!(manifest.rows.iter().sum::<u64>(), 30_000, "{url}");
        let store = Store::open(&url).unwrap();
        assert!(store.get(PARQUET_MANIFEST).is_ok(), "{url}");
        let back = s.parquet::<(u64, String)>(&url, &["n", "label"]).unwrap();
        assert_eq!(back.collect().unwrap(), rows, "{url}");
        let labels = s.parquet::<String>(&url, &["label"]).unwrap();
        assert_eq!(labels.count().unwrap(), 30_000, "{url}");
    }
    let missing = s
        .parquet::<u64>("s3://tables/nothing/", &["x"])
        .unwrap_err();
    assert!(
        missing.to_string().contains("s3://tables/nothing"),
        "{missing}"
    );
}

/// The error of reading `url` as `R` from `columns`, planned or run.
fn read_error<R: shoal_array::parquet::ParquetRow + std::fmt::Debug>(
    url: &str,
    columns: &[&str],
) -> ArrayError {
    let s = plain(1);
    match s.parquet::<R>(url, columns) {
        Err(planning) => planning,
        Ok(array) => array.collect().expect_err("reading should fail"),
    }
}

#[test]
fn mismatched_columns_are_input_errors_naming_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().to_string_lossy().into_owned();
    let s = plain(1);
    let rows = vec![(1i64, Some(2.5f64)), (2, None)];
    s.from_vec(rows, 1)
        .save_parquet(&url, &["id", "score"])
        .unwrap();

    let missing = read_error::<u64>(&url, &["nope"]);
    assert!(missing.is_user_input());
    assert!(
        missing
            .to_string()
            .contains("no column 'nope' (columns: id, score)"),
        "{missing}"
    );
    assert!(
        missing.to_string().contains(".parquet"),
        "names the file: {missing}"
    );

    let wrong_type = read_error::<u64>(&url, &["id"]);
    assert!(wrong_type.is_user_input());
    assert!(
        wrong_type.to_string().contains("column 'id' holds Int64"),
        "{wrong_type}"
    );

    let null = read_error::<(i64, f64)>(&url, &["id", "score"]);
    assert!(null.is_user_input(), "{null}");
    let message = null.to_string();
    assert!(
        message.contains("column 'score' is null in row 1"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    let kept = plain(1)
        .parquet::<(i64, Option<f64>)>(&url, &["id", "score"])
        .unwrap();
    assert_eq!(kept.collect().unwrap(), vec![(1, Some(2.5)), (2, None)]);

    let count = read_error::<(i64, f64)>(&url, &["id"]);
    assert!(count.is_user_input());
    assert!(
        count
            .to_string()
            .contains("1 column names for an element of 2 columns"),
        "{count}"
    );

    let twice = s
        .from_vec(vec![(1u8, 2u8)], 1)
        .save_parquet(&url, &["a", "a"])
        .unwrap_err();
    assert!(
        twice.to_string().contains("column name 'a' is given twice"),
        "{twice}"
    );

    let nothing = dir.path().join("absent").to_string_lossy().into_owned();
    let absent = read_error::<u64>(&nothing, &["x"]);
    assert!(absent.is_user_input(), "{absent}");
    assert!(absent.to_string().contains("absent"), "{absent}");

    let not_parquet = dir.path().join("notes.parquet");
    std::fs::write(&not_parquet, "hello").unwrap();
    let corrupt = read_error::<u64>(not_parquet.to_str().unwrap(), &["x"]);
    assert!(corrupt.is_user_input(), "{corrupt}");
    assert!(corrupt.to_string().contains("notes.parquet"), "{corrupt}");
}
