//! `shoal map` on a cluster: a real redis-server, `shoal worker
//! --allow-exec` processes on loopback, a shared local store; the same
//! output as embedded, through a worker killed mid-map; no process left
//! after `shoal cancel` or a worker's SIGTERM; and a driver that fails at
//! once when no worker allows exec.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{spawn_worker, wait_for_status, SHOAL};
use shoal_coord::test_support::RedisServer;

const MAPPER: &str =
    "import sys\nfor line in sys.stdin:\n    for w in line.split():\n        print(w + \"\\t1\")\n";
const REDUCER: &str = "import sys\ncur, n = None, 0\nfor line in sys.stdin:\n    w, c = line.rstrip(\"\\n\").split(\"\\t\", 1)\n    if w != cur:\n        if cur is not None:\n            print(cur + \"\\t\" + str(n))\n        cur, n = w, 0\n    n += int(c)\nif cur is not None:\n    print(cur + \"\\t\" + str(n))\n";

struct Cluster {
    _redis: RedisServer,
    coord: String,
    dir: tempfile::TempDir,
    workers: Vec<Child>,
}

impl Cluster {
    fn start(workers: usize, allow_exec: bool) -> Cluster {
        let redis = RedisServer::start();
        let coord = redis.url();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mapper.py"), MAPPER).unwrap();
        std::fs::write(dir.path().join("reducer.py"), REDUCER).unwrap();
        let mut text = String::new();
        for i in 0..3000u64 {
            let words: Vec<String> = (0..8)
                .map(|j| format!("w{}", (i * 7 + j * j) % 113))
                .collect();
            text.push_str(&words.join(" "));
            text.push('\n');
        }
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/t.txt"), text).unwrap();
        let mut cluster = Cluster {
            _redis: redis,
            coord,
            dir,
            workers: Vec::new(),
        };
        for i in 0..workers {
            let child = cluster.spawn_worker(&format!("w{i}"), allow_exec);
            cluster.workers.push(child);
        }
        wait_for_status(
            &cluster.coord,
            |s| s.workers.len() == workers,
            "workers to register",
        );
        cluster
    }

    fn spawn_worker(&self, name: &str, allow_exec: bool) -> Child {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut extra = vec!["--heartbeat-ttl", "2s"];
        if allow_exec {
            extra.push("--allow-exec");
        }
        spawn_worker(&self.coord, &self.store(), name, &extra, &[], &log)
    }

    fn store(&self) -> String {
        self.dir.path().join("store").display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `shoal map ARGS` on the cluster (or embedded), from the fixture's
    /// directory.
    fn map(&self, on_cluster: bool, args: &[&str]) -> Command {
        let mut cmd = Command::new(SHOAL);
        cmd.arg("map")
            .args(args)
            .arg("--quiet")
            .current_dir(self.dir.path());
        if on_cluster {
            cmd.args([
                "--coord",
                &self.coord,
                "--store",
                &self.store(),
                "--worker-timeout",
                "2s",
            ]);
        }
        cmd
    }

    fn run(&self, on_cluster: bool, args: &[&str]) -> Output {
        self.map(on_cluster, args).output().expect("run shoal map")
    }

    fn parts(&self, out: &str) -> String {
        let mut names: Vec<String> = std::fs::read_dir(self.path(out))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("part-"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| std::fs::read_to_string(self.path(out).join(n)).unwrap())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wordcount<'a>(out: &'a str, mapper: &'a str) -> Vec<&'a str> {
    vec![
        "in",
        "--out",
        out,
        "--mapper",
        mapper,
        "--reducer",
        "python3 reducer.py",
        "--ship",
        "mapper.py",
        "--ship",
        "reducer.py",
        "--reducers",
        "3",
        "--split-size",
        "8KB",
        "--json",
    ]
}

/// Pids of live processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

fn wait_until(what: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, signal: i32) {
    extern "C" {
        fn kill(pid: i32, signal: i32) -> i32;
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { kill(pid as i32, signal) };
}

#[test]
fn two_allow_exec_workers_give_the_embedded_output_even_when_one_is_killed() {
    let cluster = Cluster::start(2, true);
    let embedded = cluster.run(false, &wordcount("local", "python3 mapper.py"));
    assert_ok(&embedded, "embedded run");
    let reference = cluster.parts("local");
    assert!(reference.lines().count() == 113, "{reference}");

    let remote = cluster.run(true, &wordcount("remote", "python3 mapper.py"));
    assert_ok(&remote, "cluster run");
    assert!(cluster.parts("remote") == reference);
    assert!(cluster.path("remote/_SUCCESS").exists());
    // Counters are the same too: one committed attempt per task.
    let counters = |o: &Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["counters"].clone()
    };
    assert_eq!(counters(&remote), counters(&embedded));

    // SIGKILL a worker while its mappers run: its tasks run elsewhere.
    let marker = format!("{}.4721", std::process::id());
    // The marker is an argument the mapper ignores, to find its processes.
    let slow = format!("sleep 1; python3 mapper.py {marker}");
    let mut job = cluster
        .map(true, &wordcount("killed", &slow))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("mappers to run", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    let mut cluster = cluster;
    let victim = cluster.workers.remove(0);
    signal(victim.id(), 9);
    let output = job.wait_with_output_fixed();
    assert!(output.0.success(), "{}", output.1);
    assert!(cluster.parts("killed") == reference);
}

trait WaitFixed {
    fn wait_with_output_fixed(&mut self) -> (std::process::ExitStatus, String);
}

impl WaitFixed for Child {
    fn wait_with_output_fixed(&mut self) -> (std::process::ExitStatus, String) {
        let mut err = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
        }
        (self.wait().unwrap(), err)
    }
}

#[test]
fn cancel_and_sigterm_leave_no_process_of_the_job() {
    let mut cluster = Cluster::start(1, true);
    let marker = format!("{}.4722", std::process::id());
    let hang = format!("sleep {marker}");
    let args = [
        "in",
        "--out",
        "c1",
        "--mapper",
        &hang,
        "--split-size",
        "8KB",
    ];
    let mut job = cluster
        .map(true, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("mappers to run", Duration::from_secs(30), || {
        processes_with(&marker).len() >= 2
    });
    let job_id = shoal_cluster::cluster_status(&cluster.coord, 5)
        .unwrap()
        .jobs[0]
        .id
        .clone();
    let cancel = Command::new(SHOAL)
        .args(["cancel", &job_id, "--coord", &cluster.coord])
        .output()
        .unwrap();
    assert_ok(&cancel, "shoal cancel");
    wait_until("no mapper after cancel", Duration::from_secs(10), || {
        processes_with(&marker).is_empty()
    });
    let (status, err) = job.wait_with_output_fixed();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cancelled"), "{err}");

    // SIGTERM the worker while mappers run: it stops, and they are gone.
    let args = [
        "in",
        "--out",
        "c2",
        "--mapper",
        &hang,
        "--split-size",
        "8KB",
    ];
    let mut job = cluster
        .map(true, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("mappers to run again", Duration::from_secs(30), || {
        processes_with(&marker).len() >= 2
    });
    let mut worker = cluster.workers.remove(0);
    signal(worker.id(), 15);
    let deadline = Instant::now() + Duration::from_secs(20);
    while worker.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the worker did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until("no mapper after SIGTERM", Duration::from_secs(5), || {
        processes_with(&marker).is_empty()
    });
    let _ = job.kill();
    let _ = job.wait();
}

#[test]
fn without_allow_exec_workers_the_driver_fails_at_once() {
    let cluster = Cluster::start(1, false);
    let started = Instant::now();
    let out = cluster.run(true, &["in", "--out", "o", "--mapper", "cat"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no live worker allows exec"), "{err}");
    assert!(err.contains("--allow-exec"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!cluster.path("o/_SUCCESS").exists());
}
