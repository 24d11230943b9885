//! Shared fixtures of the integration tests: a backend under test and a
//! way to open more clients on it.

#![allow(dead_code)]

#[cfg(not(feature = "test-support"))]
compile_error!(
    "the shoal-coord integration tests need `--features test-support` \
     (scripts/test.sh passes it): cargo test -p shoal-coord --features test-support"
);

use std::time::Duration;

use shoal_coord::test_support::RedisServer;
use shoal_coord::{CoordConfig, CoordUrl, Coordinator};

/// One backend under test.
pub struct Fixture {
    pub coord: Coordinator,
    pub server: Option<RedisServer>,
}

impl Fixture {
    pub fn embedded() -> Self {
        Fixture {
            coord: Coordinator::embedded(),
            server: None,
        }
    }

    pub async fn redis() -> Self {
        let server = RedisServer::start();
        let coord = Coordinator::open(&server.url())
            .await
            .expect("connect to test redis");
        Fixture {
            coord,
            server: Some(server),
        }
    }

    /// Another client: a separate connection on Redis, the same in-process
    /// state embedded.
    pub async fn client(&self) -> Coordinator {
        match &self.server {
            None => self.coord.clone(),
            Some(server) => Coordinator::open(&server.url()).await.expect("connect"),
        }
    }

    /// A coordinator with its own settings (fresh state when embedded).
    pub async fn with_config(&self, config: CoordConfig) -> Coordinator {
        let url = match &self.server {
            None => CoordUrl::Embedded,
            Some(server) => CoordUrl::parse(&server.url()).unwrap(),
        };
        Coordinator::open_with(&url, config).await.expect("open")
    }
}

/// Waits for `cond` up to `limit`, checking every few milliseconds.
pub async fn eventually<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
