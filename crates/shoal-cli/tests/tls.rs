//! Cluster mode through a TLS, ACL-protected Redis: a real redis-server
//! that requires client certificates (a private CA made by `openssl`) and
//! an ACL user with a password, with the default user switched off. Two
//! `shoal worker`s and the driver reach it with `rediss://USER:PASS@...
//! ?ca=&cert=&key=`; the job matches embedded mode byte for byte, and no
//! output ever shows the password. Built with `--features tls`.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{shoal_cmd, SHOAL};
use shoal_testkit::{RedisServer, TestCerts, WorkerSpec, Workers};

const PASSWORD: &str = "Tide-Pool-9931";

fn run(args: &[&str]) -> Output {
    shoal_cmd(args, &[]).output().expect("run shoal")
}

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Creates user `shoal` with PASSWORD and switches the default user off,
/// through the plain port (the last command that port's anonymous client
/// may run).
fn lock_down(server: &RedisServer) {
    let port = server.port().to_string();
    let user = format!(">{PASSWORD}");
    for acl in [
        // Least privilege: Shoal's keys and channels only, no admin commands.
        vec![
            "SETUSER", "shoal", "on", &user, "~shoal:*", "&shoal:*", "+@all", "-@admin",
        ],
        vec!["SETUSER", "default", "off"],
    ] {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port, "ACL"])
            .args(&acl)
            .output()
            .expect("run redis-cli");
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(reply.trim() == "OK", "ACL {acl:?}: {reply}");
    }
}

#[test]
fn a_cluster_through_tls_and_an_acl_user_matches_embedded() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs, true);
    lock_down(&server);
    let query = format!(
        "?ca={}&cert={}&key={}",
        certs.path("ca.crt").display(),
        certs.path("client.crt").display(),
        certs.path("client.key").display()
    );
    let port = server.tls_port();
    let coord = format!("rediss://shoal:{PASSWORD}@127.0.0.1:{port}/0{query}");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let _workers = Workers::start(WorkerSpec::new(SHOAL, &coord, &store, dir.path()), 2);

    let corpus = dir.path().join("corpus.txt");
    let text: String = (0..20_000)
        .map(|i| format!("w{} ", (i * 31) % 997))
        .collect();
    std::fs::write(&corpus, text).unwrap();
    let corpus = corpus.to_str().unwrap();
    let args = [
        "wordcount",
        corpus,
        "--partitions",
        "6",
        "--json",
        "--quiet",
    ];
    let embedded = stdout_of(&args);
    let mut clustered = args.to_vec();
    clustered.extend(["--coord", &coord, "--store", &store]);
    assert_eq!(stdout_of(&clustered), embedded);

    let status = stdout_of(&["status", "--coord", &coord]);
    assert!(status.contains("w0") && status.contains("w1"), "{status}");
    assert!(status.contains("succeeded"), "{status}");
    assert!(!status.contains(PASSWORD), "{status}");

    // A wrong password and a missing client certificate fail within a
    // bound, with the URL shown redacted.
    for bad in [
        coord.replace(PASSWORD, "not-the-password"),
        format!(
            "rediss://shoal:{PASSWORD}@127.0.0.1:{port}/0?ca={}",
            certs.path("ca.crt").display()
        ),
    ] {
        let started = Instant::now();
        let out = run(&["status", "--coord", &bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(60), "{bad} hung");
        assert!(stderr.contains("rediss://shoal:***@127.0.0.1"), "{stderr}");
        assert!(!stderr.contains(PASSWORD), "{stderr}");
        assert!(!stderr.contains("not-the-password"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // A worker that does not trust the server's certificate stops at once
    // with the reason; it does not wait it out as an outage.
    let untrusted = format!("rediss://shoal:{PASSWORD}@127.0.0.1:{port}/0");
    let out = run(&["worker", "--coord", &untrusted, "--store", &store]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(!stderr.contains("unreachable"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}
