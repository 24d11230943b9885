//! Shared fixtures of the integration tests: a backend under test and a
//! way to open more clients on it.

#![allow(dead_code)]

use shoal_coord::{CoordConfig, CoordUrl, Coordinator};
use shoal_testkit::RedisServer;

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
