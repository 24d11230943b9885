//! The schedule: which job runs at each step of the job stream, which
//! faults hit it, when, and for how long — a pure function of the seed.
//!
//! Step `i` draws from its own ChaCha8 stream (`seed`, stream `i`), so a
//! step's plan does not depend on how many numbers earlier steps drew,
//! and rerunning with a seed replays the same faults at the same points of
//! the job stream. Steps are grouped in segments of [`STEPS_PER_SEGMENT`];
//! each segment brings up a fresh cluster whose topology (plain Redis or
//! Sentinels, directory or S3 store) cycles through every combination.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::jobs::JobKind;

/// Jobs per segment (one cluster, one bank).
pub const STEPS_PER_SEGMENT: u64 = 6;

/// How the control plane and the bank's Redis are deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// One server: SIGKILL then restart (empty for the control plane, from
    /// its append-only file for the bank).
    Plain,
    /// A primary, a replica and three Sentinels: SIGKILL of the primary
    /// makes a failover.
    Sentinels,
}

/// Where the cluster keeps partition files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A directory every worker sees (network namespaces share the file
    /// system).
    Directory,
    /// A bucket on the S3 server.
    S3,
}

/// A segment's deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// Control plane and bank.
    pub replication: Replication,
    /// The cluster's store.
    pub store: StoreKind,
}

impl Topology {
    /// Segment `k`'s topology: replication alternates every segment, the
    /// store every other one with a shift, so any four consecutive
    /// segments cover all four combinations (and CI's first two differ in
    /// both).
    pub fn of_segment(k: u64) -> Topology {
        let replication = if k % 2 == 0 {
            Replication::Plain
        } else {
            Replication::Sentinels
        };
        let store = if (k + k / 2) % 2 == 0 {
            StoreKind::Directory
        } else {
            StoreKind::S3
        };
        Topology { replication, store }
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let replication = match self.replication {
            Replication::Plain => "plain Redis",
            Replication::Sentinels => "Redis behind Sentinels",
        };
        let store = match self.store {
            StoreKind::Directory => "directory store",
            StoreKind::S3 => "S3 store",
        };
        write!(f, "{replication}, {store}")
    }
}

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// SIGKILL a worker; a new one with its name starts at the heal.
    WorkerKill,
    /// SIGSTOP a worker; SIGCONT at the heal.
    WorkerPause,
    /// Take a worker's network link down; up again at the heal.
    WorkerNetCut,
    /// SIGKILL the job's driver.
    DriverKill,
    /// SIGSTOP the job's driver; SIGCONT at the heal.
    DriverPause,
    /// SIGKILL the control-plane Redis; restarted empty at the heal.
    ControlRestart,
    /// SIGKILL the control-plane primary; the Sentinels promote the
    /// replica, and the old primary comes back as its replica.
    ControlFailover,
    /// SIGKILL the S3 server; restarted over the same directory at the heal.
    S3Kill,
    /// SIGSTOP the S3 server (a store that stops answering, then catches
    /// up); SIGCONT at the heal.
    S3Pause,
    /// SIGKILL the bank's Redis; restarted from its append-only file.
    BankRestart,
    /// SIGKILL the bank's primary; the Sentinels promote the replica.
    BankFailover,
}

impl FaultKind {
    /// Every kind, in table order.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::WorkerKill,
        FaultKind::WorkerPause,
        FaultKind::WorkerNetCut,
        FaultKind::DriverKill,
        FaultKind::DriverPause,
        FaultKind::ControlRestart,
        FaultKind::ControlFailover,
        FaultKind::S3Kill,
        FaultKind::S3Pause,
        FaultKind::BankRestart,
        FaultKind::BankFailover,
    ];

    /// The name in the table and the logs.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::WorkerKill => "worker SIGKILL",
            FaultKind::WorkerPause => "worker SIGSTOP/SIGCONT",
            FaultKind::WorkerNetCut => "worker network cut",
            FaultKind::DriverKill => "driver SIGKILL",
            FaultKind::DriverPause => "driver SIGSTOP/SIGCONT",
            FaultKind::ControlRestart => "control Redis SIGKILL, empty restart",
            FaultKind::ControlFailover => "control Sentinel failover",
            FaultKind::S3Kill => "S3 server SIGKILL, restart",
            FaultKind::S3Pause => "S3 server SIGSTOP/SIGCONT",
            FaultKind::BankRestart => "bank Redis SIGKILL, AOF restart",
            FaultKind::BankFailover => "bank Sentinel failover",
        }
    }

    /// How often the kind is drawn relative to the others, in a segment
    /// of `topology` (0: not possible there).
    fn weight(self, topology: Topology, netns: bool) -> u32 {
        let plain = topology.replication == Replication::Plain;
        match self {
            FaultKind::WorkerKill => 4,
            FaultKind::WorkerPause => 3,
            FaultKind::WorkerNetCut => 3 * u32::from(netns),
            FaultKind::DriverKill => 2,
            FaultKind::DriverPause => 2,
            FaultKind::ControlRestart => 2 * u32::from(plain),
            FaultKind::ControlFailover => 2 * u32::from(!plain),
            FaultKind::S3Kill => 2,
            FaultKind::S3Pause => 2,
            FaultKind::BankRestart => 2 * u32::from(plain),
            FaultKind::BankFailover => 2 * u32::from(!plain),
        }
    }

    /// Whether the fault targets one worker (and so needs a distinct
    /// target from another worker fault of the same step).
    pub fn targets_worker(self) -> bool {
        self.resource() == Resource::Worker
    }

    /// What the fault hurts; two faults of one step never hurt the same
    /// driver, server or worker (one would undo or mask the other).
    fn resource(self) -> Resource {
        match self {
            FaultKind::WorkerKill | FaultKind::WorkerPause | FaultKind::WorkerNetCut => {
                Resource::Worker
            }
            FaultKind::DriverKill | FaultKind::DriverPause => Resource::Driver,
            FaultKind::ControlRestart | FaultKind::ControlFailover => Resource::Control,
            FaultKind::S3Kill | FaultKind::S3Pause => Resource::S3,
            FaultKind::BankRestart | FaultKind::BankFailover => Resource::Bank,
        }
    }
}

/// What a fault hurts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Worker,
    Driver,
    Control,
    S3,
    Bank,
}

/// One fault of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFault {
    /// What happens.
    pub kind: FaultKind,
    /// Which worker, for worker faults (index into the workers).
    pub target: usize,
    /// When, after the job's driver started (a fault due after the job
    /// ended is not injected).
    pub at: Duration,
    /// How long until the heal (a failover's heal also waits for the
    /// promotion).
    pub hold: Duration,
}

impl std::fmt::Display for PlannedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.label())?;
        if self.kind.targets_worker() {
            write!(f, " of w{}", self.target + 1)?;
        }
        write!(
            f,
            " at +{} ms for {} ms",
            self.at.as_millis(),
            self.hold.as_millis()
        )
    }
}

/// One job of the stream and its faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Position in the job stream (from 0).
    pub index: u64,
    /// The segment (cluster) it runs in.
    pub segment: u64,
    /// The job.
    pub job: JobKind,
    /// Its faults, by time.
    pub faults: Vec<PlannedFault>,
}

/// The schedule of one run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    seed: u64,
    workers: usize,
    netns: bool,
}

impl Schedule {
    /// The schedule for `seed` on a cluster of `workers` workers, with
    /// network cuts when `netns`.
    pub fn new(seed: u64, workers: usize, netns: bool) -> Schedule {
        Schedule {
            seed,
            workers,
            netns,
        }
    }

    /// Step `index`.
    pub fn step(&self, index: u64) -> Step {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index);
        let segment = index / STEPS_PER_SEGMENT;
        let topology = Topology::of_segment(segment);
        let job = JobKind::ALL[rng.random_range(0..JobKind::ALL.len())];
        let count = match rng.random_range(0..100) {
            0..15 => 0,
            15..75 => 1,
            _ => 2,
        };
        let mut faults: Vec<PlannedFault> = Vec::new();
        for _ in 0..count {
            // A worker fault may join another on a different worker; any
            // other resource is hurt once per step.
            let kind = loop {
                let kind = self.draw_kind(&mut rng, topology);
                let clash = faults.iter().any(|f| {
                    f.kind.resource() == kind.resource() && kind.resource() != Resource::Worker
                });
                if !clash {
                    break kind;
                }
            };
            let taken: Vec<usize> = faults
                .iter()
                .filter(|f| f.kind.targets_worker())
                .map(|f| f.target)
                .collect();
            let free: Vec<usize> = (0..self.workers).filter(|w| !taken.contains(w)).collect();
            let target = free[rng.random_range(0..free.len())];
            // Within the job's nominal length, so most faults land mid-job.
            let at = job.nominal().mul_f64(rng.random_range(0.05..0.9));
            let hold = Duration::from_millis(rng.random_range(300..7_000));
            faults.push(PlannedFault {
                kind,
                target,
                at,
                hold,
            });
        }
        faults.sort_by_key(|f| f.at);
        Step {
            index,
            segment,
            job,
            faults,
        }
    }

    fn draw_kind(&self, rng: &mut ChaCha8Rng, topology: Topology) -> FaultKind {
        let weights: Vec<u32> = FaultKind::ALL
            .iter()
            .map(|k| k.weight(topology, self.netns))
            .collect();
        let mut pick = rng.random_range(0..weights.iter().sum::<u32>());
        for (kind, weight) in FaultKind::ALL.iter().zip(weights) {
            if pick < weight {
                return *kind;
            }
            pick -= weight;
        }
        unreachable!("the pick is below the sum of the weights")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_steps_and_another_differs() {
        let a = Schedule::new(7, 3, true);
        let b = Schedule::new(7, 3, true);
        let c = Schedule::new(8, 3, true);
        let steps = |s: &Schedule| (0..40).map(|i| s.step(i)).collect::<Vec<_>>();
        assert_eq!(steps(&a), steps(&b));
        assert_ne!(steps(&a), steps(&c));
        // A step does not depend on the steps drawn before it.
        assert_eq!(a.step(33), steps(&b)[33]);
    }

    #[test]
    fn faults_fit_the_segment_and_never_hurt_one_thing_twice() {
        let schedule = Schedule::new(11, 3, false);
        for i in 0..500 {
            let step = schedule.step(i);
            let topology = Topology::of_segment(step.segment);
            let workers: Vec<usize> = step
                .faults
                .iter()
                .filter(|f| f.kind.targets_worker())
                .map(|f| f.target)
                .collect();
            let mut distinct = workers.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), workers.len(), "{step:?}");
            let mut others: Vec<_> = step
                .faults
                .iter()
                .map(|f| f.kind.resource())
                .filter(|r| *r != Resource::Worker)
                .map(|r| format!("{r:?}"))
                .collect();
            let n = others.len();
            others.sort();
            others.dedup();
            assert_eq!(others.len(), n, "{step:?}");
            for fault in &step.faults {
                assert!(fault.kind.weight(topology, false) > 0, "{step:?}");
                assert_ne!(fault.kind, FaultKind::WorkerNetCut);
            }
        }
    }

    #[test]
    fn four_segments_cover_every_topology() {
        let mut seen: Vec<Topology> = (0..4).map(Topology::of_segment).collect();
        seen.dedup();
        seen.sort_by_key(|t| format!("{t}"));
        seen.dedup();
        assert_eq!(seen.len(), 4);
        assert_ne!(Topology::of_segment(0), Topology::of_segment(1));
        assert_ne!(Topology::of_segment(0).store, Topology::of_segment(1).store);
    }
}
