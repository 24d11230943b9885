//! `shoal` against a real S3-protocol server (s3s-fs on loopback, started
//! here — the tests fail, not skip, when it is missing): reports from
//! `s3://` inputs are byte-identical to local disk, a cluster shuffles
//! through S3, and wrong keys, missing buckets and a server that goes
//! away end in a clear error and a non-zero exit, never a hang.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{shoal_cmd, SHOAL};
use shoal_store::Store;
use shoal_testkit::{
    eventually, try_eventually, RedisServer, S3Server, WorkerSpec, Workers, SECRET_KEY,
};

/// Every failure must end the command within this.
const FAILURE_DEADLINE: Duration = Duration::from_secs(60);

fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    shoal_cmd(args, env).output().expect("run shoal")
}

/// `shoal gen DIR --events N --format F --files K`.
fn gen(dir: &Path, events: u64, format: &str, files: u32) {
    let out = run(
        &[
            "gen",
            dir.to_str().unwrap(),
            "--events",
            &events.to_string(),
            "--format",
            format,
            "--files",
            &files.to_string(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Uploads the files of `dir` to `s3://BUCKET/PREFIX/` through the store.
fn upload(server: &S3Server, bucket: &str, prefix: &str, dir: &Path) {
    server.create_bucket(bucket);
    let store = Store::open_with(&format!("s3://{bucket}"), &server.options()).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let key = format!("{prefix}/{}", path.file_name().unwrap().to_string_lossy());
        store
            .put(&key, Bytes::from(std::fs::read(&path).unwrap()))
            .unwrap();
    }
}

/// The report JSON of `shoal analyze INPUT --json` (must succeed).
fn report(input: &str, extra: &[&str], env: &[(&str, String)]) -> String {
    let mut args = vec!["analyze", input, "--json", "--quiet"];
    args.extend_from_slice(extra);
    let out = run(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "analyze {input}: {stderr}");
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.contains("\"events\""), "{json}");
    json
}

#[test]
fn analyze_from_s3_is_byte_identical_to_local_disk() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    for (format, files) in [("parquet", 3), ("csv", 2)] {
        let local = dir.path().join(format);
        gen(&local, 60_000, format, files);
        upload(&server, "data", &format!("events-{format}"), &local);
        let expected = report(local.to_str().unwrap(), &[], &[]);
        let url = format!("s3://data/events-{format}/");
        assert_eq!(report(&url, &[], &server.env()), expected, "{url}");
    }
    // The endpoint through --store-opt instead of AWS_ENDPOINT; a glob.
    let keys: Vec<(&str, String)> = server
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ENDPOINT")
        .collect();
    let endpoint = format!("endpoint={}", server.endpoint());
    let local = report(dir.path().join("csv").to_str().unwrap(), &[], &[]);
    let remote = report(
        "s3://data/events-csv/*.csv",
        &["--store-opt", &endpoint, "--store-opt", "max_concurrency=4"],
        &keys,
    );
    assert_eq!(remote, local);
}

#[test]
fn wordcount_from_s3_matches_local_disk() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("text");
    std::fs::create_dir_all(&local).unwrap();
    for f in 0..3 {
        let text: String = (0..30_000)
            .map(|i| {
                format!(
                    "w{}{}",
                    (i * 13 + f) % 4_001,
                    if i % 7 == 0 { "\r\n" } else { " " }
                )
            })
            .collect();
        std::fs::write(local.join(format!("part-{f}.txt")), text).unwrap();
    }
    upload(&server, "data", "text", &local);
    let count = |input: &str, env: &[(&str, String)]| {
        let args = ["wordcount", input, "--json", "--quiet", "--top", "100000"];
        let out = run(&args, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "wordcount {input}: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let expected = count(local.to_str().unwrap(), &[]);
    assert!(expected.contains("\"w4000\""), "{expected}");
    assert_eq!(count("s3://data/text/", &server.env()), expected);
    assert_eq!(count("s3://data/text/part-*.txt", &server.env()), expected);
}

#[test]
fn cluster_shuffle_through_s3_gives_the_same_report() {
    let server = S3Server::start();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("events");
    gen(&local, 60_000, "parquet", 4);
    upload(&server, "shoal", "input", &local);
    server.create_bucket("shoal");
    let env = server.env();
    // The workers' only shared store is the S3 bucket: every shuffle
    // partition and result they hand over goes through it.
    let spec = WorkerSpec::new(SHOAL, &redis.url(), "s3://shoal/work", dir.path());
    let _workers = Workers::start(spec.envs(env.clone()), 2);
    let expected = report(local.to_str().unwrap(), &[], &[]);
    let clustered = report(
        "s3://shoal/input/",
        &["--coord", &redis.url(), "--store", "s3://shoal/work"],
        &env,
    );
    assert_eq!(clustered, expected);
}

/// Runs `shoal ARGS` expecting a failure within the deadline; returns stderr.
fn fails_clearly(args: &[&str], env: &[(&str, String)], needle: &str) -> String {
    let start = Instant::now();
    let out = run(args, env);
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    assert!(elapsed < FAILURE_DEADLINE, "{args:?} took {elapsed:?}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    eprintln!("{args:?} failed in {elapsed:?}: {stderr}");
    stderr
}

#[test]
fn wrong_key_and_missing_bucket_fail_clearly() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 1_000, "csv", 1);
    upload(&server, "data", "events", dir.path());

    let mut wrong = server.env();
    wrong.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY", "wrong-secret-Xy7".to_string()));
    let stderr = fails_clearly(
        &["analyze", "s3://data/events/", "--quiet"],
        &wrong,
        "s3://data/events",
    );
    assert!(
        stderr.contains("403") || stderr.contains("privileges"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret-Xy7"), "{stderr}");

    let stderr = fails_clearly(
        &["analyze", "s3://no-such-bucket/events/", "--quiet"],
        &server.env(),
        "s3://no-such-bucket/events",
    );
    assert!(stderr.contains("NoSuchBucket"), "{stderr}");
    assert!(!stderr.contains(SECRET_KEY), "{stderr}");

    // A secret given as --store-opt is not echoed when the option is bad.
    let stderr = fails_clearly(
        &[
            "analyze",
            "s3://data/events/",
            "--store-opt",
            "hunter2-no-equals",
        ],
        &server.env(),
        "store option",
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// Bytes process `pid` has read through `read`-family system calls, from
/// `/proc/PID/io` (for s3s-fs: object bytes it served).
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn server_going_away_mid_read_fails_without_hanging() {
    let mut server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    // One ~45 MB file: two splits, each streamed in 8 MiB ranged reads.
    gen(dir.path(), 1_000_000, "csv", 1);
    upload(&server, "data", "big", dir.path());
    let mut child = shoal_cmd(
        &[
            "analyze",
            "s3://data/big/",
            "--threads",
            "1",
            "--max-attempts",
            "2",
        ],
        &server.env(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(FAILURE_DEADLINE)
            .unwrap_or_else(|_| panic!("no read stage started: {seen:?}"));
        let started = line.contains("stage 0");
        seen.push(line);
        if started {
            break;
        }
    }
    // Pull the plug once the server has served 16 MB to the read stage.
    let base = bytes_read(server.pid());
    eventually(FAILURE_DEADLINE, "the read stage to receive 16 MB", || {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the server went away"
        );
        bytes_read(server.pid()) >= base + (16 << 20)
    });
    server.kill();
    let status =
        try_eventually(FAILURE_DEADLINE, || child.try_wait().unwrap()).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("shoal analyze hung after the server went away: {seen:?}");
        });
    seen.extend(rx.try_iter());
    let text = seen.join("\n");
    eprintln!("shoal's stderr after the server went away:\n{text}");
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("s3://data/big/"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
