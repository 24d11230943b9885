//! A job whose driver is gone for good: a killed driver, or one stopped
//! for longer than its outage timeout. Its objects (`jobs/ID/...`) must not
//! outlive it: the workers' sweep deletes them once the driver has been
//! silent for longer than that bound, and a driver resumed after it fails
//! its job instead of taking it up again (the nemesis's finding 2,
//! tests/chaos/FINDINGS.md). Real processes; every wait polls a condition.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shoal_testkit::{eventually, signal, LocalCluster};

mod common;
use common::SHOAL;

/// The driver's outage timeout: the bound after which its job is given up.
const OUTAGE: &str = "3s";
/// The driver's `--history`: how long a given-up job's record stays too.
const HISTORY: &str = "1h";
/// Long enough for the sweep (a worker timeout, the bound and a sweep
/// period; for a job Redis forgot, the default bound of 30 s) on a loaded
/// machine.
const SWEPT_WITHIN: Duration = Duration::from_secs(50);

/// One worker with two slots, so stage 0 of a job over many files takes a
/// while and the driver can be hit in the middle of it.
fn cluster() -> LocalCluster {
    LocalCluster::start(SHOAL, 1, &["--heartbeat-ttl", "1s"])
}

/// Forty small text files.
fn corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for f in 0..40 {
        let text: String = (0..3000)
            .map(|i| format!("w{} ", (i * 7 + f) % 500))
            .collect();
        std::fs::write(corpus.join(format!("part-{f:02}.txt")), text).unwrap();
    }
    corpus
}

/// `shoal wordcount` on the cluster, as its own process so it can be
/// killed or stopped.
fn spawn_driver(cluster: &LocalCluster, corpus: &Path) -> Child {
    Command::new(SHOAL)
        .arg("wordcount")
        .arg(corpus)
        .args(["--coord", cluster.coord(), "--store", &cluster.store()])
        .args([
            "--worker-timeout",
            "1s",
            "--outage-timeout",
            OUTAGE,
            "--history",
            HISTORY,
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn driver")
}

/// Every file under the store's `jobs/` folder.
fn job_objects(cluster: &LocalCluster) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::from(cluster.store()).join("jobs")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Waits until the running job has committed partition files.
fn wait_for_objects(cluster: &LocalCluster) {
    eventually(Duration::from_secs(60), "stage 0 to commit files", || {
        let found = job_objects(cluster);
        if found.is_empty() {
            Err("no files yet".to_string())
        } else {
            Ok(())
        }
    });
}

fn wait_swept(cluster: &LocalCluster) {
    eventually(SWEPT_WITHIN, "the abandoned job's objects to go", || {
        let left = job_objects(cluster);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{} files left, e.g. {:?}", left.len(), left[0]))
        }
    });
}

#[test]
fn a_killed_drivers_objects_are_swept_once_its_outage_timeout_passed() {
    let cluster = cluster();
    let corpus = corpus(cluster.dir());
    let mut driver = spawn_driver(&cluster, &corpus);
    wait_for_objects(&cluster);
    driver.kill().unwrap();
    driver.wait().unwrap();
    let status = cluster.status();
    assert_eq!(
        status.jobs[0].state, "running",
        "the job should have been cut off mid-run: {status:?}"
    );
    wait_swept(&cluster);
    cluster.wait_for("the job to show as failed", |s| {
        s.jobs[0].state == "failed" && s.jobs[0].error.contains("silent")
    });
    // Its record stays as long as its driver's --history says.
    let hash = format!("shoal:job:{}", cluster.status().jobs[0].id);
    let ttl: u64 = cluster.redis().cli(&["TTL", &hash])[0].parse().unwrap();
    assert!(
        (3000..=3600).contains(&ttl),
        "{hash} expires in {ttl} s, not within --history {HISTORY}"
    );
    // The worker is unharmed and runs the next job.
    let out = Command::new(SHOAL)
        .arg("wordcount")
        .arg(&corpus)
        .args(["--coord", cluster.coord(), "--store", &cluster.store()])
        .args(["--worker-timeout", "1s", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(job_objects(&cluster).is_empty());
}

#[test]
fn a_driver_stopped_past_its_outage_timeout_fails_its_job_and_leaves_nothing() {
    let cluster = cluster();
    let corpus = corpus(cluster.dir());
    let mut driver = spawn_driver(&cluster, &corpus);
    wait_for_objects(&cluster);
    signal(driver.id(), "-STOP");
    // The sweep gives the job up while its driver is stopped...
    cluster.wait_for("the stopped driver's job to be given up", |s| {
        s.jobs[0].state == "failed"
    });
    wait_swept(&cluster);
    // ...and the driver, resumed, must not take it up again.
    signal(driver.id(), "-CONT");
    let status = eventually(
        Duration::from_secs(30),
        "the driver to exit",
        || match driver.try_wait().unwrap() {
            Some(status) => Ok(status),
            None => Err("still running"),
        },
    );
    let mut stderr = String::new();
    driver
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("given up"), "{stderr}");
    assert!(
        job_objects(&cluster).is_empty(),
        "{:?}",
        job_objects(&cluster)
    );
}

#[test]
fn a_dead_drivers_objects_are_swept_even_when_redis_restarted_empty() {
    let mut cluster = cluster();
    let corpus = corpus(cluster.dir());
    let mut driver = spawn_driver(&cluster, &corpus);
    wait_for_objects(&cluster);
    driver.kill().unwrap();
    driver.wait().unwrap();
    // Redis forgets the job, and with it which objects are whose.
    cluster.redis_mut().restart();
    assert!(!job_objects(&cluster).is_empty());
    wait_swept(&cluster);
}
