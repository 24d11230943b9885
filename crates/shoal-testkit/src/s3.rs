//! A throwaway S3 server.
//!
//! [`S3Server::start`] launches `s3s-fs` — a real S3-protocol server
//! backed by a directory, not a mock — on a free loopback port with its
//! own access and secret key, and waits until it listens; dropping the
//! handle kills it. Tests that need S3 *fail* when the binary is missing,
//! never skip: `scripts/test.sh` installs it with
//! `cargo install s3s-fs --version 0.14.1 --features binary --locked`.
//!
//! The binary is looked up as `$SHOAL_S3S_FS`, then `s3s-fs` on `PATH`,
//! then `$CARGO_HOME/bin` (`~/.cargo/bin`), where `cargo install` puts it.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::poll::try_eventually;

/// How long the server may take to start listening.
const STARTUP_DEADLINE: Duration = Duration::from_secs(15);

/// The access key every test server accepts.
pub const ACCESS_KEY: &str = "shoal-test-access";
/// The secret key every test server accepts.
pub const SECRET_KEY: &str = "shoal-test-secret-Zq9";

/// An `s3s-fs` child process on 127.0.0.1 (or the address given to
/// [`S3Server::start_on`]), killed on drop.
pub struct S3Server {
    child: Child,
    host: IpAddr,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server on a fresh temporary root directory.
    ///
    /// # Panics
    /// When `s3s-fs` is missing or does not start — a fixture must fail
    /// loudly, not skip.
    pub fn start() -> S3Server {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Starts a server listening on `host` (say, a bridge that processes
    /// in network namespaces reach) instead of 127.0.0.1.
    ///
    /// # Panics
    /// When `s3s-fs` is missing or does not start.
    pub fn start_on(host: IpAddr) -> S3Server {
        let root = tempfile::tempdir().expect("temp dir for s3s-fs");
        let (child, port) = spawn(host, 0, root.path()).unwrap_or_else(|e| panic!("{e}"));
        S3Server {
            child,
            host,
            port,
            root,
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same address
    /// and root directory, so objects written before are served again;
    /// returns once it listens.
    ///
    /// # Panics
    /// When it does not come back within the startup deadline.
    pub fn restart(&mut self) {
        self.kill();
        // The old socket may linger briefly: start again until one listens.
        let (host, port, root) = (self.host, self.port, self.root.path().to_path_buf());
        match try_eventually(STARTUP_DEADLINE, || spawn(host, port, &root)) {
            Ok((child, _)) => self.child = child,
            Err(e) => panic!("s3s-fs did not come back on {host}:{port}: {e}"),
        }
    }

    /// `http://HOST:PORT` (127.0.0.1 unless started with
    /// [`S3Server::start_on`]).
    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The server's process id (to watch its I/O in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory holding the buckets (one sub-directory each).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Creates bucket `name` (a directory under the root, which is how
    /// `s3s-fs` stores buckets).
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root.path().join(name))
            .unwrap_or_else(|e| panic!("cannot create bucket {name}: {e}"));
    }

    /// Store options reaching this server with its keys (feature `store`).
    #[cfg(feature = "store")]
    pub fn options(&self) -> shoal_store::StoreOptions {
        let mut options = shoal_store::StoreOptions::new();
        for (key, value) in self.env() {
            let key = key.trim_start_matches("AWS_").to_ascii_lowercase();
            options.set(&key, &value);
        }
        options
    }

    /// The standard AWS environment variables reaching this server, for
    /// child processes.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// Kills the server (SIGKILL); later requests fail to connect.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `s3s-fs` on `host:port` (0: any free port) over `root` and
/// waits until it reports the port it listens on.
fn spawn(host: IpAddr, port: u16, root: &Path) -> Result<(Child, u16), String> {
    let binary = binary();
    let mut child = Command::new(&binary)
        .args(["--host", &host.to_string(), "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); install it with \
                 `cargo install s3s-fs --version 0.14.1 --features binary --locked` \
                 (scripts/test.sh does)",
                binary.display()
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // The reader thread keeps draining the log so the server never
    // blocks on a full pipe; it ends when the server exits.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = listening_port(&line) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(port);
                }
            }
        }
    });
    match rx.recv_timeout(STARTUP_DEADLINE) {
        Ok(port) => Ok((child, port)),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            Err(format!(
                "s3s-fs did not report a listening port on {host} within {STARTUP_DEADLINE:?} ({status})"
            ))
        }
    }
}

/// The port in s3s-fs's "server is running at http://HOST:PORT".
fn listening_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("server is running at http://")?;
    let (_, port) = rest.split_once(':')?;
    let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SHOAL_S3S_FS") {
        return PathBuf::from(path);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("s3s-fs");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    cargo_home.join("bin").join("s3s-fs")
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_port_in_the_log_line() {
        let line =
            "  2026-01-01T00:00:00Z  INFO s3s_fs: server is running at http://127.0.0.1:41234";
        assert_eq!(super::listening_port(line), Some(41234));
        assert_eq!(super::listening_port("other"), None);
    }
}
