//! A segment: one cluster (control plane, store, workers) and one bank,
//! brought up fresh in the segment's topology and torn down after its
//! jobs, with the checks that hold between jobs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use shoal_cluster::cluster_status;
use shoal_testkit::{try_eventually, RedisOptions, WorkerSpec};

use crate::bank::{Bank, BankReport};
use crate::procs;
use crate::redis::Deployment;
use crate::schedule::{StoreKind, Topology};
use crate::workers::{self, WorkerSet};
use crate::world::{World, STORE_BUCKET};

/// How long the workers may take to be live again after the faults are
/// healed (a worker that lost Redis retries with backoff).
const RECOVERY_DEADLINE: Duration = Duration::from_secs(60);
/// How long the store may take to be emptied after a job: a killed
/// driver's objects go once it has been silent for its liveness TTL (3 s)
/// and its outage timeout (12 s, see `step.rs`), at the next sweep; those
/// of a job that Redis forgot (restarted empty) after 30 s, the default.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(60);
/// How long a process may linger after its job before it is an orphan.
const ORPHAN_DEADLINE: Duration = Duration::from_secs(20);

/// One cluster and one bank.
pub struct Segment {
    /// Its number.
    pub index: u64,
    /// Its deployment.
    pub topology: Topology,
    /// The control plane.
    pub control: Deployment,
    /// The bank's Redis.
    pub bank_redis: Deployment,
    /// Whether the bank failed over (acknowledged transfers may be lost).
    pub bank_failed_over: bool,
    /// The `--store` URL.
    pub store_url: String,
    /// Where the store's objects are on disk (the directory, or the
    /// bucket prefix's directory under the S3 server's root).
    pub store_dir: PathBuf,
    /// The workers.
    pub workers: WorkerSet,
    bank: Option<Bank>,
    /// Jobs whose leftovers were reported already (they stay).
    reported_leftovers: Vec<String>,
}

impl Segment {
    /// Brings segment `index` up and waits for its workers to register.
    pub fn start(world: &World, index: u64) -> Result<Segment> {
        let topology = Topology::of_segment(index);
        let host = world.net.isolated().then(|| world.host());
        let control = Deployment::start(
            topology.replication,
            RedisOptions {
                host,
                ..RedisOptions::default()
            },
            "shoal",
        );
        // The bank's clients run in this process: loopback is enough.
        let bank_redis = Deployment::start(
            topology.replication,
            RedisOptions {
                durable: true,
                ..RedisOptions::default()
            },
            "bank",
        );
        let (store_url, store_dir) = match topology.store {
            StoreKind::Directory => {
                let dir = world.dir.join(format!("store-seg{index}"));
                (dir.display().to_string(), dir)
            }
            StoreKind::S3 => (
                format!("s3://{STORE_BUCKET}/seg{index}"),
                world
                    .s3
                    .root()
                    .join(STORE_BUCKET)
                    .join(format!("seg{index}")),
            ),
        };
        let log_dir = world.dir.join(format!("seg{index}"));
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        let coord = control.url();
        let specs = (0..world.workers)
            .map(|i| {
                WorkerSpec::new(&world.shoal, &coord, &store_url, &log_dir)
                    .slots(2)
                    .args(["--heartbeat-ttl", "3s"])
                    .envs(world.s3_env())
                    .launcher(world.net.launcher(i))
            })
            .collect();
        let mut segment = Segment {
            index,
            topology,
            control,
            bank_redis,
            bank_failed_over: false,
            store_url,
            store_dir,
            workers: WorkerSet::start(specs),
            bank: None,
            reported_leftovers: Vec::new(),
        };
        let problems = segment.recover();
        if !problems.is_empty() {
            anyhow::bail!("the workers did not come up: {}", problems.join("; "));
        }
        let bank = Bank::start(&segment.bank_redis.url(), world.seed ^ index)?;
        world.timeline.say("  the bank started");
        segment.bank = Some(bank);
        Ok(segment)
    }

    /// The control plane's URL.
    pub fn coord(&self) -> String {
        self.control.url()
    }

    /// After the faults are healed: every worker that exited on its own is
    /// reported and started again, then all must be live within the
    /// recovery deadline. Returns what went wrong.
    pub fn recover(&mut self) -> Vec<String> {
        let mut problems = self.workers.exited();
        for i in 0..self.workers.len() {
            self.workers.respawn(i);
        }
        let coord = self.coord();
        let names: Vec<String> = (0..self.workers.len()).map(workers::name).collect();
        let live = try_eventually(RECOVERY_DEADLINE, || match cluster_status(&coord, 0) {
            Ok(status) => {
                let missing: Vec<&String> = names
                    .iter()
                    .filter(|n| !status.workers.iter().any(|w| &w.name == *n))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not live: {missing:?}"))
                }
            }
            Err(e) => Err(format!("no status: {e}")),
        });
        if let Err(e) = live {
            let tails: Vec<String> = (0..self.workers.len())
                .map(|i| format!("{}:\n{}", workers::name(i), self.workers.log_tail(i, 8)))
                .collect();
            problems.push(format!(
                "the workers were not all live again: {e}; logs end:\n{}",
                tails.join("\n")
            ));
        }
        problems
    }

    /// Jobs whose objects are still in the store once the cleanup deadline
    /// passed, leaving out those already reported (none expected: a job's
    /// objects go when it ends, whatever the end), with their files.
    pub fn leftovers(&mut self) -> Vec<(String, Vec<PathBuf>)> {
        let dir = self.store_dir.clone();
        let known = self.reported_leftovers.clone();
        let new_ones = || -> Vec<(String, Vec<PathBuf>)> {
            let mut by_job: Vec<(String, Vec<PathBuf>)> = Vec::new();
            for file in files_under(&dir) {
                let job = job_of(&dir, &file);
                if known.contains(&job) {
                    continue;
                }
                match by_job.iter_mut().find(|(j, _)| *j == job) {
                    Some((_, files)) => files.push(file),
                    None => by_job.push((job, vec![file])),
                }
            }
            by_job
        };
        let found = until_none(CLEANUP_DEADLINE, new_ones);
        self.reported_leftovers
            .extend(found.iter().map(|(job, _)| job.clone()));
        found
    }

    /// Processes of the run that are neither servers nor workers once the
    /// orphan deadline passed.
    pub fn orphans(&self, mark: &str) -> Vec<procs::Marked> {
        let workers = self.workers.pids();
        let strays = || -> Vec<procs::Marked> {
            procs::marked(mark)
                .into_iter()
                .filter(|p| !p.is_server() && !workers.contains(&p.pid))
                .collect()
        };
        until_none(ORPHAN_DEADLINE, strays)
    }

    /// Stops the bank and checks it, stops the workers as an operator
    /// would; returns the bank's report and what went wrong stopping.
    pub fn finish(mut self) -> (BankReport, Vec<String>) {
        let bank = match self.bank.take() {
            Some(bank) => bank.stop_and_verify(self.bank_failed_over),
            None => BankReport::default(),
        };
        let problems = self.workers.stop();
        (bank, problems)
    }
}

/// Polls `probe` until it finds nothing or `within` passes; returns what
/// it found last (empty when it settled).
fn until_none<T>(within: Duration, mut probe: impl FnMut() -> Vec<T>) -> Vec<T> {
    let mut last = Vec::new();
    let _ = try_eventually(within, || {
        last = probe();
        last.is_empty()
    });
    last
}

/// The job a store file belongs to: its `jobs/ID` directory (or the file
/// itself, for anything else).
fn job_of(store: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(store).unwrap_or(file);
    let mut parts = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy());
    match (parts.next(), parts.next()) {
        (Some(top), Some(id)) if top == "jobs" => format!("jobs/{id}"),
        _ => relative.display().to_string(),
    }
}

/// Every file under `dir` (directories left empty do not count: an object
/// store has none).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
