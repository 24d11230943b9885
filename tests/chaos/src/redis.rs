//! A Redis deployment the nemesis can hurt: one server, or a primary, a
//! replica and three Sentinels.

use std::time::Duration;

use anyhow::{bail, Result};
use shoal_testkit::{try_eventually, RedisOptions, RedisServer, SentinelGroup};

use crate::schedule::Replication;

/// How long the Sentinels may take to promote the replica.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(60);

/// One server, or two watched by Sentinels.
pub enum Deployment {
    /// One server.
    Plain(RedisServer),
    /// A primary and a replica (which is which changes with failovers).
    Replicated {
        /// Both servers.
        nodes: Vec<RedisServer>,
        /// Their Sentinels.
        sentinels: SentinelGroup,
    },
}

impl Deployment {
    /// Starts a deployment of `replication` kind with `options`; `name` is
    /// the primary's name for the Sentinels.
    pub fn start(replication: Replication, options: RedisOptions, name: &str) -> Deployment {
        let first = RedisServer::start_with(options);
        match replication {
            Replication::Plain => Deployment::Plain(first),
            Replication::Sentinels => {
                let replica = RedisServer::start_replica_of(&first);
                let sentinels = SentinelGroup::start(&first, name, 3, 1);
                Deployment::Replicated {
                    nodes: vec![first, replica],
                    sentinels,
                }
            }
        }
    }

    /// The URL clients use (`redis://` or `redis+sentinel://`).
    pub fn url(&self) -> String {
        match self {
            Deployment::Plain(server) => server.url(),
            Deployment::Replicated { sentinels, .. } => sentinels.url(),
        }
    }

    /// The node that is primary now (by the Sentinels' word).
    fn primary(&self) -> usize {
        match self {
            Deployment::Plain(_) => 0,
            Deployment::Replicated { nodes, sentinels } => {
                let port = sentinels.primary_port();
                nodes.iter().position(|n| n.port() == port).unwrap_or(0)
            }
        }
    }

    /// SIGKILLs the primary; returns which node it was.
    pub fn kill_primary(&mut self) -> usize {
        let primary = self.primary();
        match self {
            Deployment::Plain(server) => server.kill(),
            Deployment::Replicated { nodes, .. } => nodes[primary].kill(),
        }
        primary
    }

    /// Starts a killed plain server again (empty when in memory, from its
    /// append-only file when durable).
    pub fn restart_plain(&mut self) {
        if let Deployment::Plain(server) = self {
            server.restart();
        }
    }

    /// After the primary `killed` died behind Sentinels: waits until they
    /// have promoted the other node, then starts `killed` again as its
    /// replica (and waits for it to sync), ready for the next failover.
    pub fn finish_failover(&mut self, killed: usize) -> Result<()> {
        let Deployment::Replicated { nodes, sentinels } = self else {
            bail!("a failover needs Sentinels");
        };
        let old = nodes[killed].port();
        let promoted = try_eventually(FAILOVER_DEADLINE, || {
            let port = sentinels.primary_port();
            if port != old {
                Ok(port)
            } else {
                Err(format!("the Sentinels still name {old}"))
            }
        });
        match promoted {
            Ok(port) => {
                nodes[killed].restart_replica_of(Some(port));
                Ok(())
            }
            Err(e) => {
                // Bring the old primary back rather than leave no primary.
                nodes[killed].restart();
                bail!("no failover after the primary on port {old} died: {e}")
            }
        }
    }
}
