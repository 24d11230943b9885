//! Redis tests that need real processes: a lock holder paused with SIGSTOP
//! or killed with SIGKILL, and the Redis server itself killed and restarted
//! under load. The holder is this test binary re-run in "child" mode.

#[path = "common/bank.rs"]
mod bank;
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_coord::{CoordConfig, CoordError, CoordUrl, Coordinator, LockOptions, LostReason};
use shoal_testkit::{eventually_async, RedisServer};

const LOCK: &str = "proc-lock";
const KEY: &str = "proc/key";

/// The child side: take the lock (renewing), report the token, then on
/// "write" attempt a fenced write and report the outcome and the lease.
#[test]
#[ignore = "child process of the SIGSTOP/SIGKILL tests, which run it themselves"]
fn holder_child() {
    let Ok(url) = std::env::var("SHOAL_TEST_HOLDER_URL") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let coord = Coordinator::open(&url).await.unwrap();
        let opts = LockOptions::default().ttl(Duration::from_secs(1));
        let guard = coord.lock(LOCK, &opts).await.unwrap();
        println!("HOLDER token {}", guard.token());
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap_or_default();
        if line.trim() != "write" {
            return;
        }
        match coord.put_fenced(KEY, "stale", LOCK, guard.token()).await {
            Err(CoordError::StaleToken { newest, .. }) => println!("HOLDER refused {newest}"),
            other => println!("HOLDER accepted {other:?}"),
        }
        match tokio::time::timeout(Duration::from_secs(5), guard.lost()).await {
            Ok(reason) => println!("HOLDER lost {reason:?}"),
            Err(_) => println!("HOLDER still-held"),
        }
    });
}

struct Holder {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Holder {
    fn spawn(url: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "holder_child",
                "--exact",
                "--include-ignored",
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env("SHOAL_TEST_HOLDER_URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("re-run the test binary as the holder");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print "test holder_child ... " on the same line.
                if let Some(at) = line.find("HOLDER ") {
                    let _ = tx.send(line[at + "HOLDER ".len()..].to_owned());
                }
            }
        });
        Holder {
            child,
            stdin,
            lines,
        }
    }

    fn expect_line(&self, prefix: &str) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("holder said nothing starting with {prefix:?}: {e}"));
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, holder said {line:?}"))
            .trim()
            .to_owned()
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} failed");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A holder frozen with SIGSTOP past its lease loses the lock; the next
/// holder gets a larger token; once resumed, the stale holder's fenced
/// write is refused and it learns that its lease is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_holder_is_fenced_off() {
    let server = RedisServer::start();
    let mut holder = Holder::spawn(&server.url());
    let stale: u64 = holder.expect_line("token").parse().unwrap();
    holder.signal("-STOP");

    let coord = Coordinator::open(&server.url()).await.unwrap();
    let opts = LockOptions::default()
        .ttl(Duration::from_secs(1))
        .wait(Duration::from_secs(5));
    let started = Instant::now();
    let guard = coord.lock(LOCK, &opts).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(guard.token() > stale, "{} <= {stale}", guard.token());
    coord
        .put_fenced(KEY, "fresh", LOCK, guard.token())
        .await
        .unwrap();

    holder.signal("-CONT");
    writeln!(holder.stdin, "write").unwrap();
    let newest: u64 = holder.expect_line("refused").parse().unwrap();
    assert_eq!(newest, guard.token());
    let reason = holder.expect_line("lost");
    assert!(reason == "Expired" || reason == "Stolen", "{reason}");
    assert_eq!(&coord.get(KEY).await.unwrap().unwrap().value[..], b"fresh");
    assert!(!guard.is_lost());
    let _ = holder.child.wait();
}

/// A holder killed with SIGKILL cannot release; its lease frees the lock
/// within the TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_holder_frees_the_lock_within_ttl() {
    let server = RedisServer::start();
    let mut holder = Holder::spawn(&server.url());
    let token: u64 = holder.expect_line("token").parse().unwrap();
    let coord = Coordinator::open(&server.url()).await.unwrap();
    assert!(coord
        .try_lock(LOCK, &LockOptions::default())
        .await
        .unwrap()
        .is_none());
    holder.child.kill().unwrap();
    let killed = Instant::now();
    let _ = holder.child.wait();
    let opts = LockOptions::default().wait(Duration::from_secs(5));
    let guard = coord.lock(LOCK, &opts).await.unwrap();
    let waited = killed.elapsed();
    assert!(
        waited <= Duration::from_millis(1300),
        "lock freed only after {waited:?}"
    );
    assert!(guard.token() > token);
}

/// With the server gone, calls fail fast with retryable errors (never
/// hang), a renewing guard reports its lease lost, and everything works
/// again once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_server_means_errors_not_hangs() {
    let mut server = RedisServer::start();
    let config = CoordConfig {
        op_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..CoordConfig::default()
    };
    let url = CoordUrl::parse(&server.url()).unwrap();
    let coord = Coordinator::open_with(&url, config).await.unwrap();
    coord.put("k", "v").await.unwrap();
    let guard = coord
        .lock("l", &LockOptions::default().ttl(Duration::from_millis(600)))
        .await
        .unwrap();
    server.kill();

    let started = Instant::now();
    let err = coord.put("k", "w").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let err = coord
        .try_lock("other", &LockOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let reason = tokio::time::timeout(Duration::from_secs(3), guard.lost())
        .await
        .expect("the guard must notice the lost server within its TTL");
    assert!(
        matches!(reason, LostReason::Unreachable | LostReason::Expired),
        "{reason:?}"
    );

    server.restart();
    eventually_async(Duration::from_secs(10), "a reconnect", || async {
        coord.put("k", "after").await
    })
    .await;
    assert_eq!(&coord.get("k").await.unwrap().unwrap().value[..], b"after");
}

/// The bank workload with the Redis server killed and restarted mid-run
/// (AOF, fsync always): clients see errors and retry, and every transfer
/// ends up applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_survives_a_server_restart() {
    let server = Arc::new(Mutex::new(RedisServer::start_durable()));
    let url = server.lock().unwrap().url();
    let coord = Coordinator::open(&url).await.unwrap();
    bank::open_accounts(&coord).await;
    let plan = bank::plan(8, 250, 0xfeed);
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(Coordinator::open(&url).await.unwrap());
    }
    let done = Arc::new(AtomicUsize::new(0));
    let restarter = {
        let (server, done) = (Arc::clone(&server), Arc::clone(&done));
        tokio::spawn(async move {
            eventually_async(Duration::from_secs(60), "500 bank transfers", || async {
                done.load(Ordering::SeqCst) >= 500
            })
            .await;
            let at = done.load(Ordering::SeqCst);
            tokio::task::spawn_blocking(move || server.lock().unwrap().restart())
                .await
                .unwrap();
            at
        })
    };
    let retries = bank::run(
        clients,
        plan.clone(),
        Arc::clone(&done),
        Duration::from_secs(60),
    )
    .await;
    eprintln!("bank with restart: {retries} retried attempts");
    assert!(
        retries > 0,
        "the restart went unnoticed: no client saw an error"
    );
    let restarted_at = restarter.await.unwrap();
    assert!(
        restarted_at < 2_000,
        "restart happened after the run ({restarted_at})"
    );
    bank::verify(&coord, &plan).await;
}
