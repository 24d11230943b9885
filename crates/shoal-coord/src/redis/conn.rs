//! Opening Redis connections with bounded timeouts and automatic
//! reconnection. Public so cluster mode reaches the control plane exactly
//! the way coordination does.

use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::TcpSettings;
use redis::{ConnectionAddr, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo};

use crate::error::{CoordError, Result};
use crate::url::RedisTarget;

/// How a connection is opened and kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Upper bound on one TCP (+TLS) connect and handshake.
    pub connect_timeout: Duration,
    /// Upper bound on any single command's reply; a command that exceeds it
    /// fails (and the connection is re-established) instead of hanging.
    pub response_timeout: Duration,
    /// Reconnection attempts per outage before requests fail (each later
    /// request starts a new round).
    pub reconnect_attempts: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            reconnect_attempts: 3,
        }
    }
}

/// The client library's view of `target`, speaking RESP3 (needed for
/// pub/sub pushes on a shared connection). Fails for `rediss://` when the
/// crate was built without the `tls` feature, and for a Sentinel target
/// (see [`crate::redis::sentinel::resolve_primary`]).
pub fn connection_info(target: &RedisTarget) -> Result<redis::ConnectionInfo> {
    if target.sentinels.is_some() {
        // A Sentinel is not the server: resolve_primary must come first.
        return Err(CoordError::InvalidUrl {
            url: target.redacted(),
            reason: "ask the Sentinels for the primary before connecting".into(),
        });
    }
    let addr = if target.tls {
        if !cfg!(feature = "tls") {
            return Err(CoordError::TlsUnsupported {
                url: target.redacted(),
            });
        }
        ConnectionAddr::TcpTls {
            host: target.host.clone(),
            port: target.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(target.host.clone(), target.port)
    };
    let mut settings = RedisConnectionInfo::default()
        .set_db(target.db)
        .set_protocol(ProtocolVersion::RESP3);
    if let Some(user) = &target.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = target.password() {
        settings = settings.set_password(password);
    }
    let info = addr
        .into_connection_info()
        .map_err(|source| CoordError::Server {
            op: "connect",
            server: target.redacted(),
            source,
        })?;
    Ok(info.set_redis_settings(settings))
}

/// A client library handle for `target` (a server, not Sentinels), with
/// the certificate files of a `rediss://` URL loaded. Cluster mode builds
/// its synchronous connections from this too.
pub fn client(target: &RedisTarget) -> Result<redis::Client> {
    build_client(target, connection_info(target)?)
}

/// A client for `target` with explicit connection settings.
fn build_client(target: &RedisTarget, info: redis::ConnectionInfo) -> Result<redis::Client> {
    let refused = |source| CoordError::Server {
        op: "connect",
        server: target.redacted(),
        source,
    };
    if !target.tls {
        return redis::Client::open(info).map_err(refused);
    }
    #[cfg(feature = "tls")]
    {
        crate::redis::tls::install_crypto_provider();
        let certificates = crate::redis::tls::certificates(target)?;
        redis::Client::build_with_tls(info, certificates).map_err(refused)
    }
    #[cfg(not(feature = "tls"))]
    unreachable!("connection_info refuses rediss:// without the tls feature")
}

/// Opens a multiplexed, self-healing connection: after a failure it
/// reconnects with exponential backoff in the background while callers get
/// errors (never a hang). `push` receives pub/sub messages; subscriptions
/// are restored after every reconnect.
pub async fn connect(
    target: &RedisTarget,
    options: &ConnectOptions,
    push: Option<impl AsyncPushSender>,
) -> Result<ConnectionManager> {
    // Several requests share this connection (the tasks of a process,
    // background renewals and wake-ups). With Nagle's algorithm (redis-rs's
    // default) a request written while another is unacknowledged waits for
    // that ACK, and a server that has not answered yet (a WAIT for
    // replicas) delays its ACK by up to 40 ms. hiredis and redis-py set
    // TCP_NODELAY; so does coordination. (A sequential lock cycle never has
    // unacknowledged data when it writes: on the benchmarks this made no
    // measurable difference either way.)
    let tcp = TcpSettings::default().set_nodelay(true);
    let info = connection_info(target)?.set_tcp_settings(tcp);
    let client = build_client(target, info)?;
    let mut config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.connect_timeout))
        .set_response_timeout(Some(options.response_timeout))
        .set_number_of_retries(options.reconnect_attempts)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(500));
    if let Some(push) = push {
        config = config.set_push_sender(push).set_automatic_resubscription();
    }
    let overall =
        options.connect_timeout * (options.reconnect_attempts as u32 + 1) + Duration::from_secs(1);
    match tokio::time::timeout(overall, ConnectionManager::new_with_config(client, config)).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(source)) => Err(CoordError::Connection {
            op: "connect",
            server: target.redacted(),
            source,
        }),
        Err(_) => Err(CoordError::Timeout {
            op: "connect",
            server: target.redacted(),
            after: overall,
        }),
    }
}
