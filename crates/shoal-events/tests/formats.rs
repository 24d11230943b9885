//! Compressed inputs, JSONL and Parquet give the same rows as CSV; input
//! expansion and planning errors.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use shoal_events::{generate, Format, GenFormat, GenOptions, InputError, ReadOptions};
use shoal_store::inputs::InputsError;

fn gen(dir: &Path, format: GenFormat, files: u32) -> Vec<std::path::PathBuf> {
    let opts = GenOptions {
        events: 20_000,
        users: 700,
        days: 10,
        seed: 9,
        files,
        format,
    };
    generate(dir, &opts).unwrap().files
}

fn read_dir(dir: &Path, target: u64) -> Read {
    let opts = ReadOptions::default();
    read_all(&plan(&[dir], &opts, target).unwrap(), &opts).unwrap()
}

#[test]
fn csv_jsonl_parquet_hold_the_same_rows() {
    let base = tempfile::tempdir().unwrap();
    let mut reads = Vec::new();
    for format in [GenFormat::Csv, GenFormat::Jsonl, GenFormat::Parquet] {
        let dir = base.path().join(format!("{format:?}"));
        gen(&dir, format, 3);
        let read = read_dir(&dir, 64 * 1024);
        assert_eq!(read.rejected, 0);
        reads.push(read);
    }
    assert_eq!(reads[0].rows.len(), 20_000);
    assert_eq!(reads[0], reads[1]);
    assert_eq!(reads[0], reads[2]);
    // Parquet row-group splits, JSONL byte splits: still the same rows.
    let pq = read_dir(&base.path().join("Parquet"), 1);
    assert_eq!(pq, reads[0]);
    let jl = read_dir(&base.path().join("Jsonl"), 5000);
    assert_eq!(jl, reads[0]);
}

#[test]
fn gzip_and_zstd_read_like_plain() {
    let dir = tempfile::tempdir().unwrap();
    let files = gen(dir.path(), GenFormat::Csv, 1);
    let plain = std::fs::read(&files[0]).unwrap();
    let gz_path = dir.path().join("c.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let zst_path = dir.path().join("c.csv.zst");
    std::fs::write(&zst_path, zstd::encode_all(&plain[..], 1).unwrap()).unwrap();
    let opts = ReadOptions::default();
    let want = read_path(&files[0], &opts).unwrap();
    for path in [&gz_path, &zst_path] {
        let splits = plan(&[path], &opts, 1000).unwrap();
        assert_eq!(splits.len(), 1, "compressed files are one split");
        assert_eq!(read_all(&splits, &opts).unwrap(), want);
    }
    // JSONL gz too.
    let jdir = dir.path().join("j");
    let jfiles = gen(&jdir, GenFormat::Jsonl, 1);
    let jplain = std::fs::read(&jfiles[0]).unwrap();
    let jz = dir.path().join("j.jsonl.zst");
    std::fs::write(&jz, zstd::encode_all(&jplain[..], 1).unwrap()).unwrap();
    assert_eq!(read_path(&jz, &opts).unwrap(), want);
    // Corrupt gzip is a user-input error naming the file.
    let bad = write(dir.path(), "bad.csv.gz", b"not gzip at all");
    let err = read_path(&bad, &opts).unwrap_err();
    assert!(
        err.is_user_input() && err.to_string().contains("bad.csv.gz"),
        "{err}"
    );
}

#[test]
fn jsonl_fast_path_fallback_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "e.jsonl",
        "{\"user_id\":\"u1\",\"ts\":1,\"event\":\"view\",\"item\":\"a\"}\n\
         {\"user_id\": \"u\\\"2\", \"ts\": \"1970-01-01T00:00:00.002Z\", \"event\": \"cart\", \"extra\": {\"x\": [1]}}\n\
         {\"user_id\":3,\"ts\":3,\"event\":\"view\",\"item\":null}\r\n\
         \n\
         {\"user_id\":\"u4\",\"ts\":1.5,\"event\":\"view\"}\n\
         {\"user_id\":\"\",\"ts\":5,\"event\":\"view\"}\n\
         {\"user_id\":\"u6\",\"event\":\"view\"}\n\
         not json\n\
         {\"user_id\":\"ü\",\"ts\":8,\"event\":\"view\",\"item\":\"é\"}"
            .as_bytes(),
    );
    let r = read_path(&path, &ReadOptions::default()).unwrap();
    assert_eq!(
        r.rows,
        vec![
            row("u1", 1, "view", "a"),
            row("u\"2", 2, "cart", ""),
            row("3", 3, "view", ""),
            row("ü", 8, "view", "é"),
        ]
    );
    assert_eq!(reject_lines(&r), vec![5, 6, 7, 8]);
    assert!(
        r.rejects[2].reason.contains("missing key `ts`"),
        "{:?}",
        r.rejects
    );
    assert!(r.rejects[3].reason.starts_with("invalid JSON object"));
}

#[test]
fn input_errors_are_user_errors_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions::default();
    let missing = dir.path().join("nope.csv");
    let err = plan(&[&missing], &opts, 1 << 20).unwrap_err();
    assert!(matches!(err, InputError::Files(InputsError::NotFound { .. })) && err.is_user_input());
    let txt = write(dir.path(), "a.txt", b"x");
    let err = plan(&[&txt], &opts, 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown format (extension `.txt`)"),
        "{err}"
    );
    assert!(err.is_user_input());
    let forced = ReadOptions {
        format: Format::Csv,
        ..ReadOptions::default()
    };
    std::fs::write(&txt, "user_id,ts,event\nu,1,v\n").unwrap();
    assert_eq!(
        read_path(&txt, &forced).unwrap().rows,
        vec![row("u", 1, "v", "")]
    );
    let pattern = dir.path().join("*.parquet");
    let err = plan(&[&pattern], &opts, 1 << 20).unwrap_err();
    assert!(
        matches!(err, InputError::Files(InputsError::NoMatch { .. })),
        "{err}"
    );
    let err = shoal_events::plan_splits(&["ftp://host/x.csv".into()], &opts, 1).unwrap_err();
    assert!(
        matches!(err, InputError::Store(_)) && err.is_user_input(),
        "{err}"
    );
    assert!(
        err.to_string().contains("unsupported scheme 'ftp'"),
        "{err}"
    );
    let jl = write(
        dir.path(),
        "k.jsonl",
        b"{\"uid\":\"a\",\"ts\":1,\"event\":\"v\"}\n",
    );
    let err = plan(&[&jl], &opts, 1 << 20).unwrap_err();
    assert!(
        err.to_string().contains("columns found: event, ts, uid"),
        "{err}"
    );
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn directories_globs_and_urls_expand_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("d");
    std::fs::create_dir_all(sub.join("inner")).unwrap();
    write(&sub, "b.csv", b"user_id,ts,event\nb,2,v\n");
    write(&sub, "a.csv", b"user_id,ts,event\na,1,v\n");
    write(&sub.join("inner"), "c.csv", b"user_id,ts,event\nc,3,v\n");
    write(&sub, "_SUCCESS", b"");
    write(&sub, ".hidden.csv", b"garbage");
    write(&sub, "empty.csv", b"");
    let opts = ReadOptions::default();
    let users = |r: Read| r.rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(users(read_path(&sub, &opts).unwrap()), vec!["a", "b", "c"]);
    let glob = sub.join("[ab].csv");
    assert_eq!(users(read_path(&glob, &opts).unwrap()), vec!["a", "b"]);
    let url = format!("file://{}", sub.join("b.csv").display());
    let splits = shoal_events::plan_splits(&[url], &opts, 1 << 20).unwrap();
    assert_eq!(users(read_all(&splits, &opts).unwrap()), vec!["b"]);
}

#[test]
fn splits_survive_serialization() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), GenFormat::Csv, 2);
    let opts = ReadOptions::default();
    let splits = plan(&[dir.path()], &opts, 50_000).unwrap();
    let json = serde_json::to_string(&splits).unwrap();
    let back: Vec<shoal_events::Split> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, splits);
    let opts_back: ReadOptions =
        serde_json::from_str(&serde_json::to_string(&opts).unwrap()).unwrap();
    assert_eq!(
        read_all(&back, &opts_back).unwrap(),
        read_all(&splits, &opts).unwrap()
    );
}
