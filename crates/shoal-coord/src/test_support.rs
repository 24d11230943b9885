//! Test fixtures (feature `test-support`): throwaway `redis-server`s.
//!
//! [`RedisServer::start`] launches `redis-server` on a free loopback port
//! and waits until it answers PING; dropping the handle kills it.
//! [`RedisServer::start_replica_of`] and [`SentinelGroup`] build a
//! replicated setup watched by real Sentinels, for failover tests. Tests
//! that need Redis must use this and *fail* when the binary is missing —
//! never skip — so a machine without Redis cannot pass the suite by
//! accident. `scripts/test.sh` installs it with apt-get.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1, killed on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
    /// The server's own working directory, removed on drop. Every server
    /// gets one: a primary writes an RDB file there to sync a replica even
    /// with saving off, and a later server started in a shared directory
    /// would load it and begin with another test's keys.
    dir: PathBuf,
    /// Whether every acknowledged write is persisted (AOF, fsync always).
    durable: bool,
    /// Extra server arguments (e.g. `--replicaof`), kept for restarts.
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
        Self::launch(false, Vec::new())
    }

    /// Starts an in-memory replica of `primary` and waits until its link
    /// to the primary is up (the first sync is done).
    ///
    /// # Panics
    /// When the replica does not sync within the startup deadline.
    pub fn start_replica_of(primary: &RedisServer) -> Self {
        let of = vec![
            "--replicaof".to_string(),
            "127.0.0.1".to_string(),
            primary.port.to_string(),
        ];
        let replica = Self::launch(false, of);
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while !replica.link_is_up() {
            assert!(
                Instant::now() < deadline,
                "replica on port {} did not sync with port {} within {STARTUP_DEADLINE:?}",
                replica.port,
                primary.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let mut server = Self::launch(false, extra);
        server.tls_port = Some(tls_port);
        server
    }

    /// The TLS port of a server from [`RedisServer::start_tls`].
    ///
    /// # Panics
    /// For a server started without TLS.
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("not started with start_tls")
    }

    /// Starts a server that persists every acknowledged write (AOF,
    /// `appendfsync always`) in a fresh directory under the system temp
    /// dir, so [`RedisServer::restart`] — even after SIGKILL — keeps data.
    pub fn start_durable() -> Self {
        Self::launch_inner(true, Vec::new(), None)
    }

    fn launch(durable: bool, extra: Vec<String>) -> Self {
        Self::launch_inner(durable, extra, None)
    }

    fn launch_with_config(config: &Path, extra: Vec<String>) -> Self {
        Self::launch_inner(false, extra, Some(config.to_path_buf()))
    }

    fn launch_inner(durable: bool, extra: Vec<String>, config: Option<PathBuf>) -> Self {
        let mut last_err = String::new();
        for _ in 0..20 {
            let port = free_port();
            let dir = scratch_dir("shoal-redis");
            let child = spawn(port, &dir, durable, &extra, config.as_ref())
                .unwrap_or_else(|e| panic!("{e}"));
            // Dropping a server that did not come up removes its directory.
            let mut server = RedisServer {
                child,
                port,
                dir,
                durable,
                extra: extra.clone(),
                config: config.clone(),
                tls_port: None,
            };
            // On failure, most likely someone grabbed the port: try another.
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("redis-server did not start on any free port: {last_err}");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
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
    /// (and data directory, if durable); returns once it answers PING.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let child = spawn(
                self.port,
                &self.dir,
                self.durable,
                &self.extra,
                self.config.as_ref(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            self.child = child;
            match self.wait_ready() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("redis-server did not come back on port {}: {e}", self.port)
                }
                // The old socket may linger briefly; try again.
                Err(_) => self.kill(),
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("redis-server exited early with {status}"));
            }
            if ping(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "no PONG on port {} within {STARTUP_DEADLINE:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new empty directory `PREFIX-PID-UNIQUE` under the system temp dir.
fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        crate::OwnerId::next().hex()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read, close).
/// Redis cannot be told `--port 0`, so callers retry on collision.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// Starts `redis-server [CONFIG] --port PORT ...`; a config file, when
/// given, must come first on the command line.
fn spawn(
    port: u16,
    dir: &Path,
    durable: bool,
    extra: &[String],
    config: Option<&PathBuf>,
) -> Result<Child, String> {
    let mut cmd = Command::new("redis-server");
    if let Some(config) = config {
        cmd.arg(config);
    }
    cmd.args(["--port", &port.to_string()]);
    server_args(&mut cmd, dir, durable, extra);
    cmd.spawn().map_err(|e| {
        format!(
            "cannot run redis-server ({e}); the Redis tests need it: run scripts/test.sh, \
             which installs it (apt-get install -y redis-server)"
        )
    })
}

fn server_args(cmd: &mut Command, dir: &Path, durable: bool, extra: &[String]) {
    cmd.args(["--bind", "127.0.0.1"]).args([
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
    if durable {
        cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        cmd.args(["--appendonly", "no"]);
    }
    cmd.args(extra);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
}

/// Redis Sentinels on free loopback ports watching one primary, killed
/// (and their config directory removed) on drop.
pub struct SentinelGroup {
    sentinels: Vec<RedisServer>,
    name: String,
    dir: PathBuf,
}

impl SentinelGroup {
    /// Starts `count` Sentinels monitoring `primary` as `name`, with a
    /// quorum of a majority and fast failure detection (1 s), and waits
    /// until every one knows `replicas` replicas and all other Sentinels,
    /// so that a failover can be voted on.
    ///
    /// # Panics
    /// When a Sentinel does not start or the group does not form in time.
    pub fn start(primary: &RedisServer, name: &str, count: usize, replicas: usize) -> Self {
        let dir = scratch_dir("shoal-sentinel");
        let quorum = count / 2 + 1;
        let sentinels = (0..count)
            .map(|i| {
                let conf = dir.join(format!("sentinel-{i}.conf"));
                let text = format!(
                    "sentinel monitor {name} 127.0.0.1 {port} {quorum}\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 5000\n",
                    port = primary.port
                );
                std::fs::write(&conf, text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
                // The config file must come first on a sentinel's command line.
                RedisServer::launch_with_config(&conf, vec!["--sentinel".to_string()])
            })
            .collect();
        let group = SentinelGroup {
            sentinels,
            name: name.to_string(),
            dir,
        };
        group.wait_formed(count - 1, replicas);
        group
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,.../NAME`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/{}", nodes.join(","), self.name)
    }

    /// The port of the primary the first Sentinel names now.
    pub fn primary_port(&self) -> u16 {
        let fields = self.ask(0, &["get-master-addr-by-name"]);
        fields
            .get(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no primary named {}: {fields:?}", self.name))
    }

    fn wait_formed(&self, others: usize, replicas: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let formed = (0..self.sentinels.len()).all(|i| {
                let info = self.ask(i, &["master"]);
                let field = |key: &str| -> usize {
                    info.iter()
                        .position(|f| f == key)
                        .and_then(|at| info.get(at + 1))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                field("num-other-sentinels") >= others && field("num-slaves") >= replicas
            });
            if formed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Sentinels did not see {others} peers and {replicas} replicas within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `SENTINEL <args> NAME` on Sentinel `i`, as a flat list of strings.
    fn ask(&self, i: usize, args: &[&str]) -> Vec<String> {
        let url = format!("redis://127.0.0.1:{}", self.sentinels[i].port);
        let mut conn = redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("cannot reach Sentinel {i}: {e}"));
        redis::cmd("SENTINEL")
            .arg(args)
            .arg(&self.name)
            .query::<Vec<String>>(&mut conn)
            .unwrap_or_default()
    }
}

impl Drop for SentinelGroup {
    fn drop(&mut self) {
        for sentinel in &mut self.sentinels {
            sentinel.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

/// A private certificate authority with a server certificate (for
/// 127.0.0.1 and localhost) and a client certificate it signed, made with
/// the `openssl` command in a directory removed on drop — for `rediss://`
/// tests. Files: `ca.crt`, `server.crt`, `server.key`, `client.crt`,
/// `client.key` (PEM).
pub struct TestCerts {
    dir: PathBuf,
}

impl TestCerts {
    /// Generates the CA and both certificates (P-256 keys, valid 2 days).
    ///
    /// # Panics
    /// When `openssl` is missing or fails (scripts/test.sh installs it).
    pub fn generate() -> Self {
        let certs = TestCerts {
            dir: scratch_dir("shoal-certs"),
        };
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
        ca.extend(key);
        ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
        ca.extend(["-subj", "/CN=shoal-test-ca"]);
        certs.openssl(&ca);
        for (name, usage, alt) in [
            (
                "server",
                "serverAuth",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
            ),
            ("client", "clientAuth", ""),
        ] {
            let (keyfile, csr, crt, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
                format!("{name}.ext"),
            );
            let text = format!("{alt}basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n");
            std::fs::write(certs.path(&ext), text).expect("write extension file");
            let mut request = vec!["req", "-nodes"];
            request.extend(key);
            request.extend(["-keyout", &keyfile, "-out", &csr]);
            let subject = format!("/CN=shoal-test-{name}");
            request.extend(["-subj", &subject]);
            certs.openssl(&request);
            certs.openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &crt,
                "-extfile",
                &ext,
            ]);
        }
        certs
    }

    /// The file `name` (e.g. `ca.crt`) in the certificate directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run openssl ({e}); scripts/test.sh installs it (apt-get install openssl)")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
