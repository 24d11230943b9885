//! `shoal map` on a cluster: a real redis-server, `shoal worker
//! --allow-exec` processes on loopback, a shared local store; the same
//! output as embedded, through a worker killed mid-map; no process left
//! after `shoal cancel` or a worker's SIGTERM; and a driver that fails at
//! once when no worker allows exec.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{wait_for_processes, wait_none_left, SHOAL};
use shoal_testkit::{eventually, exited, LocalCluster, WorkerSpec};

const MAPPER: &str =
    "import sys\nfor line in sys.stdin:\n    for w in line.split():\n        print(w + \"\\t1\")\n";
const REDUCER: &str = "import sys\ncur, n = None, 0\nfor line in sys.stdin:\n    w, c = line.rstrip(\"\\n\").split(\"\\t\", 1)\n    if w != cur:\n        if cur is not None:\n            print(cur + \"\\t\" + str(n))\n        cur, n = w, 0\n    n += int(c)\nif cur is not None:\n    print(cur + \"\\t\" + str(n))\n";

/// A cluster of `shoal worker`s (with `--allow-exec` or not) and, in its
/// directory, the scripts and an input.
struct Cluster {
    inner: LocalCluster,
}

impl Cluster {
    fn start(workers: usize, allow_exec: bool) -> Cluster {
        let mut args = vec!["--heartbeat-ttl", "2s"];
        if allow_exec {
            args.push("--allow-exec");
        }
        let inner = LocalCluster::start(SHOAL, workers, &args);
        let dir = inner.dir();
        std::fs::write(dir.join("mapper.py"), MAPPER).unwrap();
        std::fs::write(dir.join("reducer.py"), REDUCER).unwrap();
        let mut text = String::new();
        for i in 0..3000u64 {
            let words: Vec<String> = (0..8)
                .map(|j| format!("w{}", (i * 7 + j * j) % 113))
                .collect();
            text.push_str(&words.join(" "));
            text.push('\n');
        }
        std::fs::create_dir_all(dir.join("in")).unwrap();
        std::fs::write(dir.join("in/t.txt"), text).unwrap();
        Cluster { inner }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.inner.dir().join(name)
    }

    /// `shoal map ARGS` on the cluster (or embedded), from the fixture's
    /// directory.
    fn map(&self, on_cluster: bool, args: &[&str]) -> Command {
        let mut cmd = Command::new(SHOAL);
        cmd.arg("map")
            .args(args)
            .arg("--quiet")
            .current_dir(self.inner.dir());
        if on_cluster {
            let store = self.inner.store();
            cmd.args([
                "--coord",
                self.inner.coord(),
                "--store",
                &store,
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
        common::part_files(&self.path(out))
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

/// Every file below `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => todo.push(path),
                false => files.push(path),
            }
        }
    }
    files
}

fn stderr_of(child: &mut Child) -> (std::process::ExitStatus, String) {
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
    }
    (child.wait().unwrap(), err)
}

#[test]
fn two_allow_exec_workers_give_the_embedded_output_even_when_one_is_killed() {
    let cluster = Cluster::start(2, true);
    let embedded = cluster.run(false, &wordcount("local", "python3 mapper.py"));
    assert_ok(&embedded, "embedded run");
    let reference = cluster.parts("local");
    assert!(reference.lines().count() == 113, "{reference}");

    // The shipped files are under the job's prefix while it runs (the
    // mapper fails otherwise) and gone with the job's objects after it.
    let store = cluster.inner.store();
    let shipped_under_job =
        format!("test -f '{store}/jobs/'\"$SHOAL_JOB_ID\"/ship/mapper.py && python3 mapper.py");
    let remote = cluster.run(true, &wordcount("remote", &shipped_under_job));
    assert_ok(&remote, "cluster run");
    assert!(cluster.parts("remote") == reference);
    assert!(cluster.path("remote/_SUCCESS").exists());
    let left = files_under(Path::new(&store));
    assert!(left.is_empty(), "objects left in the store: {left:?}");
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
    wait_for_processes(&marker, 1, "mappers to run");
    let mut cluster = cluster;
    cluster.inner.workers_mut().kill(0);
    let (status, err) = stderr_of(&mut job);
    assert!(status.success(), "{err}");
    assert!(cluster.parts("killed") == reference);
}

#[test]
fn cancel_and_sigterm_leave_no_process_of_the_job() {
    let cluster = Cluster::start(1, true);
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
    wait_for_processes(&marker, 2, "mappers to run");
    let job_id = cluster.inner.status().jobs[0].id.clone();
    let cancel = Command::new(SHOAL)
        .args(["cancel", &job_id, "--coord", cluster.inner.coord()])
        .output()
        .unwrap();
    assert_ok(&cancel, "shoal cancel");
    wait_none_left(&marker, Duration::from_secs(10), "no mapper after cancel");
    let (status, err) = stderr_of(&mut job);
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
    wait_for_processes(&marker, 2, "mappers to run again");
    let worker = cluster.inner.workers().pid(0);
    cluster.inner.workers().signal(0, "-TERM");
    eventually(Duration::from_secs(20), "the worker to stop", || {
        exited(worker)
    });
    wait_none_left(&marker, Duration::from_secs(5), "no mapper after SIGTERM");
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

#[test]
fn a_worker_without_allow_exec_never_claims_a_map_task() {
    let cluster = Cluster::start(1, true);
    let embedded = cluster.run(false, &wordcount("local", "python3 mapper.py"));
    assert_ok(&embedded, "embedded run");
    // A worker beside it without --allow-exec, on the same Redis and store.
    let inner = &cluster.inner;
    let plain = WorkerSpec::new(SHOAL, inner.coord(), &inner.store(), inner.dir())
        .args(["--heartbeat-ttl", "2s"]);
    let mut child = plain.spawn("plain");
    inner.wait_for("the plain worker to register", |s| {
        s.workers.iter().any(|w| w.name == "plain")
    });
    let remote = cluster.run(true, &wordcount("remote", "python3 mapper.py"));
    let plain_log = || std::fs::read_to_string(plain.log_path("plain")).unwrap();
    assert!(
        remote.status.success(),
        "{}\nplain worker: {}",
        String::from_utf8_lossy(&remote.stderr),
        plain_log()
    );
    assert!(cluster.parts("remote") == cluster.parts("local"));
    // Stopped, the plain worker says what it claimed: no map task.
    shoal_testkit::signal(child.id(), "-TERM");
    eventually(Duration::from_secs(20), "the plain worker to stop", || {
        exited(child.id())
    });
    let _ = child.wait();
    let log = plain_log();
    assert!(log.contains("tasks claimed:"), "{log}");
    assert!(!log.contains("map@"), "{log}");
}
