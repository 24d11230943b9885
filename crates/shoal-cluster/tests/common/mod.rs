//! The cluster the driver tests share: a Redis server, a store directory
//! and workers (`shoal_cluster::Worker`, the code `shoal worker` runs) on
//! threads of the test process, and the driver's configuration for it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use shoal_cluster::{ClusterConfig, Worker, WorkerConfig};
use shoal_core::Registry;
use shoal_testkit::{eventually, RedisServer};

/// Redis, a store directory and in-process workers; the workers are
/// stopped (and waited for) on drop.
pub struct InProcessCluster {
    /// The control plane.
    pub redis: RedisServer,
    store: tempfile::TempDir,
    stops: Vec<Arc<AtomicBool>>,
    workers: Vec<JoinHandle<()>>,
}

impl InProcessCluster {
    /// Redis and a store directory, no worker yet.
    pub fn empty() -> InProcessCluster {
        InProcessCluster {
            redis: RedisServer::start(),
            store: tempfile::tempdir().unwrap(),
            stops: Vec::new(),
            workers: Vec::new(),
        }
    }

    /// `count` workers of `slots` slots named `{prefix}0`, `{prefix}1`, …,
    /// each with its own `registry()`, all registered.
    pub fn start(
        count: usize,
        slots: usize,
        prefix: &str,
        registry: impl Fn() -> Registry,
    ) -> InProcessCluster {
        let mut cluster = InProcessCluster::empty();
        for i in 0..count {
            let config = cluster.worker_config(&format!("{prefix}{i}"), slots);
            cluster.spawn(config, registry());
        }
        cluster.wait_for_workers(count);
        cluster
    }

    /// The store's URL (a directory).
    pub fn store_url(&self) -> String {
        self.store.path().to_str().unwrap().to_string()
    }

    /// A worker `name` of `slots` slots on this Redis and store, whose
    /// registration lapses 2 s after its last heartbeat.
    pub fn worker_config(&self, name: &str, slots: usize) -> WorkerConfig {
        WorkerConfig {
            coord_url: self.redis.url(),
            store_url: self.store_url(),
            name: name.into(),
            slots,
            heartbeat_ttl: Duration::from_secs(2),
        }
    }

    /// Runs a worker of `config` on a thread of its own.
    pub fn spawn(&mut self, config: WorkerConfig, registry: Registry) {
        let worker = Worker::new(config, registry).unwrap();
        self.stops.push(worker.stop_flag());
        self.workers
            .push(std::thread::spawn(move || worker.run().unwrap()));
    }

    /// Waits (30 s at most) until `count` workers are registered.
    pub fn wait_for_workers(&self, count: usize) {
        let url = self.redis.url();
        let what = format!("{count} worker(s) to register");
        eventually(
            Duration::from_secs(30),
            &what,
            || match shoal_cluster::cluster_status(&url, 0) {
                Ok(s) if s.workers.len() == count => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }

    /// A driver's configuration for this cluster, with the defaults.
    pub fn driver_config(&self) -> ClusterConfig {
        ClusterConfig::new(&self.redis.url(), &self.store_url())
    }

    /// Stops the workers and waits for them to end.
    ///
    /// # Panics
    /// When a worker failed.
    pub fn stop_workers(&mut self) {
        self.signal_stop();
        for worker in self.workers.drain(..) {
            worker.join().expect("the worker ran without an error");
        }
    }

    fn signal_stop(&self) {
        for stop in &self.stops {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for InProcessCluster {
    fn drop(&mut self) {
        self.signal_stop();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
