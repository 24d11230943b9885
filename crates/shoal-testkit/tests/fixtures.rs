//! The fixtures' restarts keep what they promise: a durable Redis keeps
//! its data through SIGKILL, a server restarted with a new role takes it,
//! servers on a second address are reached (and replicate) there,
//! and an S3 server comes back on its address over its old root.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use shoal_testkit::{RedisOptions, RedisServer, S3Server};

fn query(server: &RedisServer, cmd: &mut redis::Cmd) -> redis::Value {
    let mut conn = redis::Client::open(server.url())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("cannot reach {}: {e}", server.url()));
    cmd.query(&mut conn).expect("redis command")
}

fn role(server: &RedisServer) -> String {
    match query(server, &mut redis::cmd("ROLE")) {
        redis::Value::Array(fields) => match fields.first() {
            Some(redis::Value::BulkString(role)) => String::from_utf8_lossy(role).into_owned(),
            other => panic!("unexpected ROLE reply {other:?}"),
        },
        other => panic!("unexpected ROLE reply {other:?}"),
    }
}

#[test]
fn a_durable_server_keeps_acknowledged_writes_through_sigkill() {
    let mut server = RedisServer::start_with(RedisOptions {
        durable: true,
        ..RedisOptions::default()
    });
    query(&server, redis::cmd("SET").arg("k").arg("v"));
    server.restart();
    let value = query(&server, redis::cmd("GET").arg("k"));
    assert_eq!(value, redis::Value::BulkString(b"v".to_vec()));
}

#[test]
fn a_replica_restarted_as_primary_stays_one_and_back() {
    let primary = RedisServer::start();
    let mut replica = RedisServer::start_replica_of(&primary);
    assert_eq!(role(&replica), "slave");
    replica.restart_replica_of(None);
    assert_eq!(role(&replica), "master");
    // The new role survives a plain restart.
    replica.restart();
    assert_eq!(role(&replica), "master");
    replica.restart_replica_of(Some(primary.port()));
    assert_eq!(role(&replica), "slave");
}

/// The status line of a plain HTTP request to `endpoint` (`http://H:P`).
fn http_status(endpoint: &str, path: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to s3s-fs");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.lines().next().unwrap_or_default().to_string()
}

#[test]
fn an_s3_server_restarts_on_its_address_over_its_root() {
    let mut server = S3Server::start();
    server.create_bucket("b");
    std::fs::write(server.root().join("b").join("kept"), b"bytes").unwrap();
    let endpoint = server.endpoint();
    server.kill();
    assert!(
        TcpStream::connect(endpoint.trim_start_matches("http://")).is_err(),
        "still listening after kill"
    );
    server.restart();
    assert_eq!(server.endpoint(), endpoint);
    // Unsigned, so refused — but by a server that is back on the port.
    let status = http_status(&endpoint, "/b/kept");
    assert!(
        status.starts_with("HTTP/1.1 "),
        "no HTTP answer: {status:?}"
    );
    assert!(server.root().join("b").join("kept").exists());
}

#[test]
fn servers_on_a_second_address_are_named_by_it_sentinels_included() {
    // 127.0.0.2 is loopback too on Linux, yet another address than 127.0.0.1.
    let host = std::net::IpAddr::from([127, 0, 0, 2]);
    let primary = RedisServer::start_with(RedisOptions {
        host: Some(host),
        ..RedisOptions::default()
    });
    assert_eq!(
        primary.url(),
        format!("redis://127.0.0.2:{}", primary.port())
    );
    let replica = RedisServer::start_replica_of(&primary);
    assert_eq!(replica.host(), host);
    let sentinels = shoal_testkit::SentinelGroup::start(&primary, "second", 3, 1);
    assert!(sentinels.url().starts_with("redis+sentinel://127.0.0.2:"));
    assert_eq!(
        sentinels.primary_addr(),
        ("127.0.0.2".to_string(), primary.port())
    );
    // The replica synced over the second address.
    let info = match query(&primary, redis::cmd("INFO").arg("replication")) {
        redis::Value::VerbatimString { text, .. } => text,
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("unexpected INFO reply {other:?}"),
    };
    assert!(info.contains("ip=127.0.0.2"), "{info}");
}
