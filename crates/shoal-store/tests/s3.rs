//! The S3 backend against a real S3-protocol server (`s3s-fs` on
//! loopback): reads, writes, listing, first-commit-wins (single PUT and
//! multipart), and the failures a user meets — wrong key, missing bucket,
//! a server that goes away — each a clear error within a bounded time.

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shoal_store::{Store, StoreError, StoreOptions};
use shoal_testkit::{S3Server, SECRET_KEY};

/// Failures must surface well within this (retries are bounded).
const FAILURE_DEADLINE: Duration = Duration::from_secs(30);

fn open(server: &S3Server, url: &str, extra: &[&str]) -> Store {
    let mut options = server.options();
    for entry in extra {
        let (k, v) = entry.split_once('=').unwrap();
        options.set(k, v);
    }
    Store::open_with(url, &options).unwrap()
}

/// Deterministic bytes that are not all alike, so a misplaced range shows.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
        .collect()
}

#[test]
fn reads_writes_lists_and_ranges() {
    let server = S3Server::start();
    server.create_bucket("data");
    let store = open(&server, "s3://data/root/", &[]);
    store.put("a/x", Bytes::from_static(b"hello")).unwrap();
    store.put("a/y", pattern(3 << 20)).unwrap();
    store.put("b/z", Bytes::from_static(b"z")).unwrap();
    assert_eq!(&store.get("a/x").unwrap()[..], b"hello");
    assert_eq!(store.size("a/y").unwrap(), 3 << 20);
    let keys: Vec<String> = store
        .list("a")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["a/x", "a/y"]);
    let ranges = [10..20, 1_000_000..1_000_100, (3 << 20) - 5..(3 << 20)];
    let expected = pattern(3 << 20);
    for (got, range) in store
        .get_ranges("a/y", &ranges)
        .unwrap()
        .iter()
        .zip(&ranges)
    {
        assert_eq!(got[..], expected[range.start as usize..range.end as usize]);
    }
    // The streaming reader crosses its 8 MiB request boundaries correctly.
    let big = pattern(20 << 20);
    store.put("a/big", big.clone()).unwrap();
    let mut streamed = Vec::new();
    store
        .reader("a/big", 7..(20 << 20) - 3)
        .read_to_end(&mut streamed)
        .unwrap();
    assert_eq!(streamed[..], big[7..(20 << 20) - 3]);
    store.delete_prefix("a").unwrap();
    assert!(store.list("a").unwrap().is_empty());
}

#[test]
fn first_commit_wins_with_single_and_multipart_uploads() {
    let server = S3Server::start();
    server.create_bucket("jobs");
    // A low threshold sends the 12 MiB commit through the staged
    // multipart path and the conditional copy.
    let store = open(&server, "s3://jobs", &["multipart_threshold=5MiB"]);
    for (key, len) in [("j/s0/p0", 1000), ("j/s0/p1", 12 << 20)] {
        let first = pattern(len);
        let parts = vec![first.slice(..len / 2), first.slice(len / 2..)];
        assert!(store.put_if_absent_parts(key, parts).unwrap(), "{key}");
        let second = Bytes::from(vec![7u8; len]);
        assert!(!store.put_if_absent(key, second).unwrap(), "{key}");
        assert_eq!(store.get(key).unwrap(), first, "{key}");
    }
    // No staging object is left behind.
    let keys: Vec<String> = store
        .list("j")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["j/s0/p0", "j/s0/p1"]);
    // From a reader (a spill file), streamed in parts above the threshold.
    for (key, len) in [("r/small", 1000), ("r/big", 12 << 20)] {
        let data = pattern(len);
        let put = |bytes: &Bytes| store.put_read_if_absent(key, bytes.as_ref(), len as u64, "test");
        assert!(put(&data).unwrap(), "{key}");
        assert!(!put(&Bytes::from(vec![7u8; len])).unwrap(), "{key}");
        assert_eq!(store.get(key).unwrap(), data, "{key}");
    }
    // A large unconditional put goes in parts too and reads back whole.
    let big = pattern(11 << 20);
    store.put("saved/part-0", big.clone()).unwrap();
    assert_eq!(store.get("saved/part-0").unwrap(), big);
}

/// Runs `op`, checks it fails within the deadline, returns the message.
fn fails_quickly<T: std::fmt::Debug>(op: impl FnOnce() -> Result<T, StoreError>) -> String {
    let start = Instant::now();
    let err = op().expect_err("operation should fail");
    let elapsed = start.elapsed();
    assert!(elapsed < FAILURE_DEADLINE, "took {elapsed:?}: {err}");
    let text = format!("{err}");
    eprintln!("error as shown ({elapsed:?}): {text}");
    assert!(!text.contains(SECRET_KEY), "secret printed: {text}");
    text
}

#[test]
fn wrong_key_missing_bucket_and_missing_object_are_clear_errors() {
    let server = S3Server::start();
    server.create_bucket("data");
    open(&server, "s3://data", &[])
        .put("k", Bytes::from_static(b"v"))
        .unwrap();

    // Same settings but the secret, set in place: must not reuse the
    // cached client holding the right secret.
    let mut options = server.options();
    options.set("secret_access_key", "not-the-secret");
    let wrong = Store::open_with("s3://data", &options).unwrap();
    let text = fails_quickly(|| wrong.get("k"));
    assert!(text.starts_with("get s3://data/k:"), "{text}");
    assert!(!text.contains("not-the-secret"), "{text}");

    let missing = open(&server, "s3://no-such-bucket/x", &[]);
    let text = fails_quickly(|| missing.list(""));
    assert!(text.contains("s3://no-such-bucket/x"), "{text}");

    let store = open(&server, "s3://data", &[]);
    let err = store.get("absent").unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(err.to_string(), "get s3://data/absent: not found");
}

#[test]
fn a_server_that_goes_away_mid_read_is_an_error_not_a_hang() {
    let mut server = S3Server::start();
    server.create_bucket("data");
    let store = open(&server, "s3://data", &["retry_timeout=3s"]);
    store.put("big", pattern(40 << 20)).unwrap();
    let mut reader = store.reader("big", 0..40 << 20);
    let mut first = vec![0u8; 1 << 20];
    reader.read_exact(&mut first).unwrap();
    server.kill();
    let start = Instant::now();
    let mut rest = Vec::new();
    let err = reader.read_to_end(&mut rest).expect_err("read after kill");
    assert!(start.elapsed() < FAILURE_DEADLINE, "{:?}", start.elapsed());
    assert!(err.to_string().contains("s3://data/big"), "{err}");
    let text = fails_quickly(|| store.size("big"));
    assert!(text.starts_with("head s3://data/big:"), "{text}");
}

#[test]
fn unknown_options_are_refused_by_name() {
    let options =
        StoreOptions::parse(&["endpoint=http://127.0.0.1:9", "no_such_setting=1"]).unwrap();
    let err = Store::open_with("s3://b", &options).unwrap_err();
    assert!(err.to_string().contains("no_such_setting"), "{err}");
}
