//! `rediss://` against a real TLS redis-server on loopback, with a private
//! CA made by `openssl`: the URL's `ca` makes the server trusted, a missing
//! or wrong trust setting fails clearly, and a server that requires client
//! certificates accepts the URL's `cert`/`key`. Built with `--features tls`.

use std::time::Duration;

use shoal_coord::{CoordError, Coordinator, LockOptions};
use shoal_testkit::{RedisServer, TestCerts};

/// Opens `url`, which must fail within 20 s; returns the error.
async fn open_fails(url: &str) -> CoordError {
    match tokio::time::timeout(Duration::from_secs(20), Coordinator::open(url)).await {
        Ok(Err(err)) => err,
        Ok(Ok(_)) => panic!("{url} connected"),
        Err(_) => panic!("{url} hung"),
    }
}

fn url(server: &RedisServer, query: &str) -> String {
    format!("rediss://127.0.0.1:{}/0{query}", server.tls_port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_in_the_url_makes_the_server_trusted() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs, false);
    let ca = certs.path("ca.crt");
    let trusted = url(&server, &format!("?ca={}", ca.display()));
    let coord = Coordinator::open(&trusted).await.unwrap();
    assert_eq!(coord.counter_add("over-tls", 3).await.unwrap(), 3);
    let guard = coord.lock("tls", &LockOptions::default()).await.unwrap();
    guard.release().await.unwrap();
    // The same data is behind the plain port: it really was this server.
    let plain = Coordinator::open(&server.url()).await.unwrap();
    assert_eq!(plain.counter_get("over-tls").await.unwrap(), 3);

    // Without the CA the built-in web roots do not know this server.
    let err = open_fails(&url(&server, "")).await.to_string();
    assert!(
        err.contains("rediss://127.0.0.1") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // A CA file that is not there is named.
    let missing = url(&server, "?ca=/nonexistent/ca.pem");
    match open_fails(&missing).await {
        err @ CoordError::TlsFile { .. } => {
            assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}")
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_requiring_client_certificates_accepts_the_urls() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_tls(&certs, true);
    let ca = certs.path("ca.crt").display().to_string();
    let (cert, key) = (certs.path("client.crt"), certs.path("client.key"));
    let with_client = url(
        &server,
        &format!("?ca={ca}&cert={}&key={}", cert.display(), key.display()),
    );
    let coord = Coordinator::open(&with_client).await.unwrap();
    assert_eq!(coord.counter_add("mtls", 1).await.unwrap(), 1);
    // Without a client certificate the server refuses the handshake.
    open_fails(&url(&server, &format!("?ca={ca}"))).await;
}
