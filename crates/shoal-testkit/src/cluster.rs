//! A whole throwaway cluster on loopback: Redis (optionally a replica
//! and Sentinels), a shared store directory and worker processes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shoal_cluster::{cluster_status, ClusterStatus};

use crate::redis_server::RedisServer;
use crate::sentinel::SentinelGroup;
use crate::workers::{WorkerSpec, Workers};

/// How long [`LocalCluster::wait_for`] waits.
const STATUS_DEADLINE: Duration = Duration::from_secs(30);

/// Polls `shoal status` (`cluster_status`) on `coord` until `condition`
/// holds; a status that cannot be read (Redis restarting) counts as "not
/// yet".
///
/// # Panics
/// When `within` passes first, with the last status seen.
pub fn wait_for_status(
    coord: &str,
    within: Duration,
    what: &str,
    condition: impl Fn(&ClusterStatus) -> bool,
) {
    crate::eventually(within, what, || match cluster_status(coord, 10) {
        Ok(status) if condition(&status) => Ok(()),
        Ok(status) => Err(format!("{status:?}")),
        Err(e) => Err(format!("no status: {e}")),
    });
}

/// Redis, a store directory and `N` workers of one binary; everything is
/// stopped and removed on drop.
pub struct LocalCluster {
    // Drop order matters: workers first, then the control plane.
    workers: Workers,
    replication: Option<(RedisServer, SentinelGroup)>,
    redis: RedisServer,
    coord: String,
    dir: tempfile::TempDir,
}

impl LocalCluster {
    /// One Redis server and `workers` workers of `binary`, started with
    /// extra `worker_args`.
    ///
    /// # Panics
    /// When a server or worker does not start.
    pub fn start(binary: impl Into<PathBuf>, workers: usize, worker_args: &[&str]) -> Self {
        let redis = RedisServer::start();
        let coord = redis.url();
        Self::assemble(binary.into(), redis, coord, None, workers, worker_args)
    }

    /// A primary, one replica and three Sentinels; every node connects
    /// through the Sentinels.
    ///
    /// # Panics
    /// When a server or worker does not start.
    pub fn start_replicated(
        binary: impl Into<PathBuf>,
        workers: usize,
        worker_args: &[&str],
    ) -> Self {
        let primary = RedisServer::start();
        let replica = RedisServer::start_replica_of(&primary);
        let sentinels = SentinelGroup::start(&primary, "shoal", 3, 1);
        let coord = sentinels.url();
        let replication = Some((replica, sentinels));
        Self::assemble(
            binary.into(),
            primary,
            coord,
            replication,
            workers,
            worker_args,
        )
    }

    fn assemble(
        binary: PathBuf,
        redis: RedisServer,
        coord: String,
        replication: Option<(RedisServer, SentinelGroup)>,
        workers: usize,
        worker_args: &[&str],
    ) -> Self {
        let dir = crate::scratch::scratch_dir("shoal-cluster");
        let store = store_in(dir.path());
        let spec = WorkerSpec::new(binary, &coord, &store, dir.path()).args(worker_args);
        LocalCluster {
            workers: Workers::start(spec, workers),
            replication,
            redis,
            coord,
            dir,
        }
    }

    /// The `--coord` URL every node uses.
    pub fn coord(&self) -> &str {
        &self.coord
    }

    /// The `--store` every node uses (a directory).
    pub fn store(&self) -> String {
        store_in(self.dir.path())
    }

    /// A scratch directory of the cluster's own (worker logs, inputs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The (first primary) Redis server.
    pub fn redis(&self) -> &RedisServer {
        &self.redis
    }

    /// The Redis server, to kill or restart it.
    pub fn redis_mut(&mut self) -> &mut RedisServer {
        &mut self.redis
    }

    /// The Sentinels of a [`LocalCluster::start_replicated`] cluster.
    pub fn sentinels(&self) -> Option<&SentinelGroup> {
        self.replication.as_ref().map(|(_, sentinels)| sentinels)
    }

    /// The workers.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// The workers, to kill one.
    pub fn workers_mut(&mut self) -> &mut Workers {
        &mut self.workers
    }

    /// The cluster's status now.
    ///
    /// # Panics
    /// When it cannot be read.
    pub fn status(&self) -> ClusterStatus {
        cluster_status(&self.coord, 10)
            .unwrap_or_else(|e| panic!("cannot read the status of {}: {e}", self.coord))
    }

    /// Waits (30 s at most) until the status satisfies `condition`.
    ///
    /// # Panics
    /// When it does not, with the last status.
    pub fn wait_for(&self, what: &str, condition: impl Fn(&ClusterStatus) -> bool) {
        wait_for_status(&self.coord, STATUS_DEADLINE, what, condition);
    }
}

fn store_in(dir: &Path) -> String {
    dir.join("store").display().to_string()
}
