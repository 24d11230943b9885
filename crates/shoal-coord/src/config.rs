//! [`CoordConfig`]: the settings of one coordinator, read by the
//! coordinator and by the backend it opens (a module of its own so that
//! neither depends on the other for them).

use std::time::Duration;

/// Tuning shared by every operation of one coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordConfig {
    /// Upper bound on any single server round trip. Default 5 s.
    pub op_timeout: Duration,
    /// Upper bound on establishing a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Attempts of a transaction before [`CoordError::Conflict`]. Default 50.
    pub max_tx_attempts: u32,
    /// Replicas that must hold a lease grant or renewal before it counts
    /// (Redis `WAIT`, capped at the replicas connected to the primary), so
    /// that a failover cannot forget a lock or reissue its fencing token. A
    /// grant too few replicas acknowledge in time is given back with
    /// [`CoordError::NotReplicated`](crate::CoordError::NotReplicated).
    /// `None` (the default) means 1 behind a `redis+sentinel://` URL and 0
    /// otherwise. The cap needs the `ROLE` command; an ACL user denied it
    /// gets the count as configured. Redis replication stays asynchronous
    /// for everything else.
    pub grant_replicas: Option<usize>,
}

impl Default for CoordConfig {
    fn default() -> Self {
        CoordConfig {
            op_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_tx_attempts: 50,
            grant_replicas: None,
        }
    }
}
