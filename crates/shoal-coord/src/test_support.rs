//! Test fixtures (feature `test-support`): a throwaway `redis-server`.
//!
//! [`RedisServer::start`] launches `redis-server` on a free loopback port
//! and waits until it answers PING; dropping the handle kills it. Tests
//! that need Redis must use this and *fail* when the binary is missing —
//! never skip — so a machine without Redis cannot pass the suite by
//! accident. `scripts/test.sh` installs it with apt-get.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1, killed on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
    /// Data directory when durable (AOF with fsync on every write).
    dir: Option<PathBuf>,
}

impl RedisServer {
    /// Starts an in-memory server (`--save "" --appendonly no`).
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up — a test fixture
    /// must fail loudly, not skip.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// Starts a server that persists every acknowledged write (AOF,
    /// `appendfsync always`) in a fresh directory under the system temp
    /// dir, so [`RedisServer::restart`] — even after SIGKILL — keeps data.
    pub fn start_durable() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "shoal-redis-{}-{}",
            std::process::id(),
            crate::OwnerId::next().hex()
        ));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Self::launch(Some(dir))
    }

    fn launch(dir: Option<PathBuf>) -> Self {
        let mut last_err = String::new();
        for _ in 0..20 {
            let port = free_port();
            let child = spawn(port, dir.as_ref()).unwrap_or_else(|e| panic!("{e}"));
            let mut server = RedisServer {
                child,
                port,
                dir: None,
            };
            // On failure, most likely someone grabbed the port: try another.
            match server.wait_ready() {
                Ok(()) => {
                    server.dir = dir;
                    return server;
                }
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
            let child = spawn(self.port, self.dir.as_ref()).unwrap_or_else(|e| panic!("{e}"));
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
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read, close).
/// Redis cannot be told `--port 0`, so callers retry on collision.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

fn spawn(port: u16, dir: Option<&PathBuf>) -> Result<Child, String> {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
        ]);
    match dir {
        Some(dir) => {
            cmd.arg("--dir").arg(dir);
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        }
        None => {
            cmd.args(["--appendonly", "no"]);
        }
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    cmd.spawn().map_err(|e| {
        format!(
            "cannot run redis-server ({e}); the Redis tests need it: run scripts/test.sh, \
             which installs it (apt-get install -y redis-server)"
        )
    })
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
