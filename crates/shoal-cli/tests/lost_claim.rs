//! A claim whose reply never reaches the worker (chaos finding 3): Redis
//! has put the entry in the worker's pending list, the worker's connection
//! drops before it reads the reply — as when a worker stopped by SIGSTOP
//! inside the read wakes with EINTR — and it claims again. The entry must
//! still run, or a one-task stage waits for it forever: the worker stays
//! live, so no driver reclaims it. A proxy between the worker and Redis
//! drops the first reply that delivers a task, so the fault is exact, not
//! a race. Real processes on loopback; every wait polls under a deadline.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use shoal_cluster::{ClusterConfig, ClusterExecutor};
use shoal_core::{run_job, JobSpec, NoProgress, Registry};
use shoal_testkit::{try_eventually, LocalCluster, WorkerSpec, Workers};

mod common;
use common::SHOAL;

/// How long the job may take: far less than it would wait for a worker
/// that holds its task without running it (forever).
const PATIENCE: Duration = Duration::from_secs(30);
const STREAM: &str = "shoal:tasks:noop@1";

/// A TCP proxy in front of Redis that drops, once, the connection whose
/// claim (XREADGROUP, or the claim script) is answered with task entries,
/// instead of passing the answer on.
struct LosingProxy {
    port: u16,
    /// The reply it dropped, once it has.
    dropped: Arc<Mutex<Option<Vec<u8>>>>,
}

impl LosingProxy {
    fn start(redis_port: u16) -> LosingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let dropped = Arc::new(Mutex::new(None));
        let armed = Arc::new(AtomicBool::new(true));
        let shared = dropped.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let server = TcpStream::connect(("127.0.0.1", redis_port)).expect("reach Redis");
                let (armed, dropped) = (armed.clone(), shared.clone());
                std::thread::spawn(move || relay(client, server, armed, dropped));
            }
        });
        LosingProxy { port, dropped }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn dropped(&self) -> Option<Vec<u8>> {
        self.dropped.lock().unwrap().clone()
    }
}

/// Passes bytes both ways; a reply to a claim that carries task entries is
/// dropped with the connection while `armed` (then disarms).
fn relay(
    client: TcpStream,
    server: TcpStream,
    armed: Arc<AtomicBool>,
    dropped: Arc<Mutex<Option<Vec<u8>>>>,
) {
    let claiming = Arc::new(AtomicBool::new(false));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let flag = claiming.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n @ 1..) = from_client.read(&mut buf) {
            let command = &buf[..n];
            // A worker's connection sends one command and waits for its reply.
            flag.store(
                contains(command, b"XREADGROUP") || contains(command, b"EVALSHA"),
                Ordering::SeqCst,
            );
            if to_server.write_all(command).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Both);
    });
    let (mut from_server, mut to_client) = (server, client);
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n @ 1..) = from_server.read(&mut buf) {
        let reply = &buf[..n];
        if claiming.load(Ordering::SeqCst)
            && contains(reply, STREAM.as_bytes())
            && armed.swap(false, Ordering::SeqCst)
        {
            *dropped.lock().unwrap() = Some(reply.to_vec());
            break;
        }
        if to_client.write_all(reply).is_err() {
            break;
        }
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = from_server.shutdown(Shutdown::Both);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn redis_cli(cluster: &LocalCluster, args: &[&str]) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &cluster.redis().port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn registry() -> Registry {
    Registry::new().with(Arc::new(shoal_jobs::Noop))
}

#[test]
fn a_task_whose_claim_reply_was_lost_still_runs() {
    let cluster = LocalCluster::start(SHOAL, 0, &[]);
    let proxy = LosingProxy::start(cluster.redis().port());
    // Its registration never lapses during the test, so no driver would
    // reclaim what it holds: the worker itself must run it.
    let spec = WorkerSpec::new(SHOAL, &proxy.url(), &cluster.store(), cluster.dir())
        .slots(1)
        .args(["--heartbeat-ttl", "300s"]);
    let workers = Workers::start(spec, 1);

    // One task: nothing else can finish the stage.
    let job = JobSpec::new("noop", json!({"tasks": 1, "echo": true}));
    let exec = ClusterExecutor::new(ClusterConfig::new(cluster.coord(), &cluster.store())).unwrap();
    let driver = std::thread::spawn(move || run_job(&exec, &registry(), job, &NoProgress));

    let finished = try_eventually(PATIENCE, || driver.is_finished());
    let dropped = proxy.dropped();
    assert!(
        finished.is_ok(),
        "the job still waits for its task; reply dropped: {}; pending: {:?}; worker log:\n{}",
        dropped.is_some(),
        redis_cli(&cluster, &["XPENDING", STREAM, "workers", "-", "+", "10"]),
        workers.log(0)
    );
    let output = driver.join().unwrap().expect("the job completes");
    assert_eq!(output.results.len(), 1, "{output:?}");
    let dropped = dropped.expect("the proxy dropped the reply that delivered the task");
    assert!(contains(&dropped, STREAM.as_bytes()));
    assert_eq!(
        redis_cli(&cluster, &["XPENDING", STREAM, "workers"]).first(),
        Some(&"0".to_string()),
        "entries left pending"
    );
}
