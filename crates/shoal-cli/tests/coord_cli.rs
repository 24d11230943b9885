//! `shoal lock`, `shoal kv` and `shoal counter` end to end: bad input
//! exits 2 with one line; round trips against a real Redis started here.

use std::process::{Command, Output};
use std::time::Duration;

use shoal_coord::{Coordinator, LockOptions};
use shoal_testkit::RedisServer;

fn shoal(args: &[&str], coord: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(args).env_remove("SHOAL_COORD");
    if let Some(url) = coord {
        cmd.env("SHOAL_COORD", url);
    }
    cmd.output().expect("run shoal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2 and exactly one line on stderr containing `needle`.
fn assert_usage(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    assert_usage(
        &shoal(&["lock", "", "--", "true"], None),
        "invalid lock name \"\"",
    );
    assert_usage(
        &shoal(&["lock", "x", "--ttl", "0s", "--", "true"], None),
        "invalid lease TTL 0ns",
    );
    assert_usage(
        &shoal(&["lock", "x", "--ttl", "soon", "--", "true"], None),
        "soon",
    );
    assert_usage(&shoal(&["lock", "x"], None), "shoal: error:");
    assert_usage(
        &shoal(&["kv", "get", "k", "--coord", "http://h:1"], None),
        "invalid coordination URL \"http://h:1\"",
    );
    let out = shoal(&["kv", "get", "k"], Some("redis://app:hunter2@:1"));
    assert_usage(&out, "invalid coordination URL");
    assert!(
        !stderr(&out).contains("hunter2"),
        "password leaked: {}",
        stderr(&out)
    );
    assert_usage(&shoal(&["counter", "add", "c", "many"], None), "many");
    assert_usage(
        &shoal(&["kv", "put", &"k".repeat(600), "v"], None),
        "longer than 512 bytes",
    );
    assert_usage(
        &shoal(&["lock", "x", "--", "/no/such/program"], None),
        "cannot run \"/no/such/program\"",
    );
}

/// A host that does not resolve fails (exit 1) in one line that says the
/// resolver's error once, not once per layer of the error chain.
#[test]
fn an_unresolvable_redis_host_is_named_once() {
    let out = shoal(
        &["kv", "get", "k"],
        Some("redis://no-such-host.invalid:6379"),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains("no-such-host.invalid"), "{err}");
    let parts: Vec<&str> = err.trim_end().split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[..i].contains(part), "{part:?} said twice: {err}");
    }
}

#[test]
fn embedded_counter_lives_in_one_command() {
    let out = shoal(&["counter", "add", "c", "-3"], None);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "-3"));
}

#[test]
fn kv_counter_and_lock_round_trip_on_redis() {
    let server = RedisServer::start();
    let url = server.url();
    let url = Some(url.as_str());

    assert_eq!(
        shoal(&["kv", "put", "greeting", "hello world"], url)
            .status
            .code(),
        Some(0)
    );
    let out = shoal(&["kv", "get", "greeting"], url);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "hello world")
    );
    assert_eq!(
        shoal(&["kv", "del", "greeting"], url).status.code(),
        Some(0)
    );
    let out = shoal(&["kv", "get", "greeting"], url);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    assert_eq!(stdout(&shoal(&["counter", "add", "jobs", "5"], url)), "5");
    assert_eq!(stdout(&shoal(&["counter", "add", "jobs", "-2"], url)), "3");
    assert_eq!(stdout(&shoal(&["counter", "get", "jobs"], url)), "3");

    let script = "echo $SHOAL_FENCING_TOKEN; exit 3";
    let first = shoal(&["lock", "job", "--", "sh", "-c", script], url);
    assert_eq!(first.status.code(), Some(3), "{}", stderr(&first));
    let second = shoal(&["lock", "job", "--", "sh", "-c", script], url);
    let (a, b): (u64, u64) = (
        stdout(&first).parse().unwrap(),
        stdout(&second).parse().unwrap(),
    );
    assert!(b > a, "tokens must grow: {a} then {b}");
}

#[test]
fn lock_gives_up_when_held_elsewhere() {
    let server = RedisServer::start();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let coord = runtime.block_on(Coordinator::open(&url)).unwrap();
    let guard = runtime
        .block_on(coord.lock("busy", &LockOptions::default().ttl(Duration::from_secs(30))))
        .unwrap();
    let out = shoal(
        &["lock", "busy", "--wait", "300ms", "--", "true"],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gave up waiting for lock \"busy\""),
        "{}",
        stderr(&out)
    );
    runtime.block_on(guard.release()).unwrap();
    let out = shoal(
        &["lock", "busy", "--wait", "300ms", "--", "true"],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
