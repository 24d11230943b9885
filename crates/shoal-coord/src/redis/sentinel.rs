//! Finding the current primary of a replicated Redis through its Sentinels.
//!
//! Shoal does not run failovers itself: whoever connects asks the
//! Sentinels listed in a `redis+sentinel://` URL which server is the primary
//! now, and connects there. Cluster mode's control plane asks again on
//! every reconnect, and coordination asks again after a request fails on
//! the connection, so after a failover both reach the promoted replica.

use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo, RedisError};

use crate::error::{CoordError, Result};
use crate::url::RedisTarget;

/// `target` itself when it names a server; for a Sentinel target, the
/// primary the first answering Sentinel names. Each Sentinel gets
/// `timeout` to connect and to answer.
pub fn resolve_primary(target: &RedisTarget, timeout: Duration) -> Result<RedisTarget> {
    let Some(set) = &target.sentinels else {
        return Ok(target.clone());
    };
    let mut last_error = None;
    let mut unknown = false;
    for (host, port) in &set.nodes {
        match ask_sentinel(host, *port, &set.primary, timeout) {
            Ok(Some((primary_host, primary_port))) => {
                return Ok(target.at_primary(primary_host, primary_port))
            }
            Ok(None) => unknown = true,
            Err(err) => last_error = Some(err),
        }
    }
    match last_error {
        Some(source) if !unknown => Err(CoordError::Connection {
            op: "ask the Sentinels for the primary",
            server: target.redacted(),
            source,
        }),
        _ => Err(CoordError::UnknownPrimary {
            url: target.redacted(),
            primary: set.primary.clone(),
        }),
    }
}

/// One Sentinel's answer: the primary's address, or `None` when it does
/// not monitor a primary of that name.
fn ask_sentinel(
    host: &str,
    port: u16,
    primary: &str,
    timeout: Duration,
) -> Result<Option<(String, u16)>, RedisError> {
    let info = ConnectionAddr::Tcp(host.to_owned(), port).into_connection_info()?;
    let mut conn = redis::Client::open(info)?.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(primary)
        .query(&mut conn)
}
