//! Throwaway `redis-server`s on free loopback ports.
//!
//! [`RedisServer::start`] launches one and waits until it answers PING;
//! dropping the handle kills it and removes its directory.
//! [`RedisServer::start_replica_of`] and [`crate::SentinelGroup`] build a
//! replicated setup watched by real Sentinels, for failover tests.
//! [`RedisServer::start_with`] also listens on a second address (say, a
//! bridge that processes in network namespaces reach).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::TestCerts;
use crate::poll::{eventually, try_eventually};
use crate::scratch::{free_port, scratch_dir};

/// How long a server may take to answer its first PING.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1, killed on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
    /// Options kept for restarts.
    launch: Launch,
    /// The server's own working directory. Every server gets one: a
    /// primary writes an RDB file there to sync a replica even with saving
    /// off, and a later server started in a shared directory would load it
    /// and begin with another test's keys. Declared last so it is removed
    /// after the server is killed.
    dir: tempfile::TempDir,
}

/// How to start a server beyond [`RedisServer::start`]'s defaults.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Persist every acknowledged write (AOF, `appendfsync always`), so a
    /// restart — even after SIGKILL — keeps data.
    pub durable: bool,
    /// Also listen on this address, which [`RedisServer::url`] then names
    /// (and replicas and Sentinels use); 127.0.0.1 is always bound too.
    pub host: Option<IpAddr>,
}

/// How a server is started (again, on restart).
#[derive(Clone, Default)]
struct Launch {
    /// Whether every acknowledged write is persisted (AOF, fsync always).
    durable: bool,
    /// A second address to listen on, named by the URL.
    host: Option<IpAddr>,
    /// The port of the primary this server replicates (on the same host).
    replica_of: Option<u16>,
    /// Extra server arguments (e.g. `--sentinel`).
    extra: Vec<String>,
    /// A config file to load first (Sentinels need one they can rewrite).
    config: Option<PathBuf>,
    /// The TLS port, for servers from [`RedisServer::start_tls`].
    tls_port: Option<u16>,
}

impl RedisServer {
    /// Starts an in-memory server (`--save "" --appendonly no`).
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up — a test fixture
    /// must fail loudly, not skip.
    pub fn start() -> Self {
        Self::launch(Launch::default())
    }

    /// Starts a server with `options`.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up.
    pub fn start_with(options: RedisOptions) -> Self {
        Self::launch(Launch {
            durable: options.durable,
            host: options.host,
            ..Launch::default()
        })
    }

    /// Starts a replica of `primary` — in memory or durable and on the
    /// addresses the primary is — and waits until its link to the primary
    /// is up (the first sync is done).
    ///
    /// # Panics
    /// When the replica does not sync within the startup deadline.
    pub fn start_replica_of(primary: &RedisServer) -> Self {
        let replica = Self::launch(Launch {
            durable: primary.launch.durable,
            host: primary.launch.host,
            replica_of: Some(primary.port),
            ..Launch::default()
        });
        let what = format!("replica {} to sync with {}", replica.port, primary.port);
        eventually(STARTUP_DEADLINE, &what, || replica.link_is_up());
        replica
    }

    /// Whether this replica's `INFO replication` says `master_link_status:up`.
    fn link_is_up(&self) -> bool {
        let info: String = redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut conn| redis::cmd("INFO").arg("replication").query(&mut conn))
            .unwrap_or_default();
        info.lines().any(|l| l.trim() == "master_link_status:up")
    }

    /// Starts an in-memory server that also speaks TLS on
    /// [`RedisServer::tls_port`] with `certs`' server certificate, asking
    /// clients for a certificate signed by `certs`' CA when
    /// `require_client_certs` is set. The plain port stays open for the
    /// fixture's own readiness check.
    pub fn start_tls(certs: &TestCerts, require_client_certs: bool) -> Self {
        let tls_port = free_port();
        let path = |name: &str| certs.path(name).display().to_string();
        let extra = vec![
            "--tls-port".to_string(),
            tls_port.to_string(),
            "--tls-cert-file".to_string(),
            path("server.crt"),
            "--tls-key-file".to_string(),
            path("server.key"),
            "--tls-ca-cert-file".to_string(),
            path("ca.crt"),
            "--tls-auth-clients".to_string(),
            if require_client_certs { "yes" } else { "no" }.to_string(),
        ];
        Self::launch(Launch {
            extra,
            tls_port: Some(tls_port),
            ..Launch::default()
        })
    }

    /// The TLS port of a server from [`RedisServer::start_tls`].
    ///
    /// # Panics
    /// For a server started without TLS.
    pub fn tls_port(&self) -> u16 {
        self.launch.tls_port.expect("not started with start_tls")
    }

    /// Starts a server that persists every acknowledged write (AOF,
    /// `appendfsync always`) in its own directory, so
    /// [`RedisServer::restart`] — even after SIGKILL — keeps data.
    pub fn start_durable() -> Self {
        Self::launch(Launch {
            durable: true,
            ..Launch::default()
        })
    }

    /// Starts a Sentinel (`redis-server CONFIG --sentinel`), also
    /// listening on `host`; the config file must come first on its command
    /// line and be writable.
    pub(crate) fn start_sentinel(config: &Path, host: Option<IpAddr>) -> Self {
        Self::launch(Launch {
            host,
            extra: vec!["--sentinel".to_string()],
            config: Some(config.to_path_buf()),
            ..Launch::default()
        })
    }

    fn launch(launch: Launch) -> Self {
        let mut last_err = String::new();
        for _ in 0..20 {
            let port = free_port();
            let dir = scratch_dir("shoal-redis");
            let child = spawn(port, dir.path(), &launch).unwrap_or_else(|e| panic!("{e}"));
            let mut server = RedisServer {
                child,
                port,
                launch: launch.clone(),
                dir,
            };
            // On failure, most likely someone grabbed the port: try another.
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("redis-server did not start on any free port: {last_err}");
    }

    /// `redis://HOST:PORT`: 127.0.0.1, or the address of
    /// [`RedisOptions::host`].
    pub fn url(&self) -> String {
        format!("redis://{}:{}", self.host(), self.port)
    }

    /// The address [`RedisServer::url`] names.
    pub fn host(&self) -> IpAddr {
        self.launch.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `redis-cli ARGS` against the server (on 127.0.0.1): the reply's
    /// lines, for a test's look at raw keys and streams.
    ///
    /// # Panics
    /// When `redis-cli` cannot run or fails.
    pub fn cli(&self, args: &[&str]) -> Vec<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The server's process id (for SIGSTOP/SIGKILL in tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no shutdown save).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server (SIGKILL) and starts it again on the same port
    /// (and data directory, if durable), as a replica of the server on
    /// port `primary` or, with `None`, as a primary — after a failover the
    /// roles are no longer those it was started with. Later restarts keep
    /// the new role. A replica is waited for until its link to the
    /// primary is up.
    ///
    /// # Panics
    /// When it does not come back, or sync, within the startup deadline.
    pub fn restart_replica_of(&mut self, primary: Option<u16>) {
        self.launch.replica_of = primary;
        self.restart();
        if let Some(primary) = primary {
            let what = format!("replica {} to sync with {primary}", self.port);
            eventually(STARTUP_DEADLINE, &what, || self.link_is_up());
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same port
    /// (and data directory, if durable); returns once it answers PING.
    ///
    /// # Panics
    /// When it does not come back within the startup deadline.
    pub fn restart(&mut self) {
        self.kill();
        // The old socket may linger briefly: start again until one answers.
        let back = try_eventually(STARTUP_DEADLINE, || {
            let child =
                spawn(self.port, self.dir.path(), &self.launch).unwrap_or_else(|e| panic!("{e}"));
            self.child = child;
            let ready = self.wait_ready();
            if ready.is_err() {
                self.kill();
            }
            ready
        });
        if let Err(e) = back {
            panic!("redis-server did not come back on port {}: {e}", self.port);
        }
    }

    /// Waits for PONG; an early exit or the deadline is an error (and the
    /// server is killed).
    fn wait_ready(&mut self) -> Result<(), String> {
        let port = self.port;
        let child = &mut self.child;
        let answered = try_eventually(STARTUP_DEADLINE, || match child.try_wait() {
            Ok(Some(status)) => Some(Err(format!("redis-server exited early with {status}"))),
            _ => ping(port).then_some(Ok(())),
        });
        let outcome = answered.unwrap_or_else(|e| Err(format!("no PONG on port {port}: {e}")));
        if outcome.is_err() {
            self.kill();
        }
        outcome
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `redis-server [CONFIG] --port PORT ...`; a config file, when
/// given, must come first on the command line.
fn spawn(port: u16, dir: &Path, launch: &Launch) -> Result<Child, String> {
    let mut cmd = Command::new("redis-server");
    if let Some(config) = &launch.config {
        cmd.arg(config);
    }
    cmd.args(["--port", &port.to_string()]);
    server_args(&mut cmd, dir, launch);
    cmd.spawn().map_err(|e| {
        format!(
            "cannot run redis-server ({e}); the Redis tests need it: run scripts/test.sh, \
             which installs it (apt-get install -y redis-server)"
        )
    })
}

fn server_args(cmd: &mut Command, dir: &Path, launch: &Launch) {
    cmd.args(["--bind", "127.0.0.1"]);
    if let Some(host) = launch.host {
        cmd.arg(host.to_string());
        // As a replica, be known by this address too (the connection's
        // source address may be another one of this machine's).
        if !launch.extra.iter().any(|a| a == "--sentinel") {
            cmd.args(["--replica-announce-ip", &host.to_string()]);
        }
    }
    if let Some(primary) = launch.replica_of {
        let host = launch.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        cmd.args(["--replicaof", &host.to_string(), &primary.to_string()]);
    }
    cmd.args([
        "--save",
        "",
        "--protected-mode",
        "no",
        "--loglevel",
        "warning",
        // Sync a new replica at once instead of after Redis's default 5 s
        // wait for more replicas to share the transfer.
        "--repl-diskless-sync-delay",
        "0",
    ]);
    cmd.arg("--dir").arg(dir);
    if launch.durable {
        cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        cmd.args(["--appendonly", "no"]);
    }
    cmd.args(&launch.extra);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
}

/// Whether a server answers PING on `port` (raw RESP, no client library).
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
