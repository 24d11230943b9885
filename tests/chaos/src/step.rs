//! One step of the job stream: start the job's driver, inject the step's
//! faults at their times and heal them, judge the job, then check that
//! the cluster recovered, the store is empty and nothing was left running.

use std::time::{Duration, Instant};

use crate::checker::{judge, Circumstances, Verdict};
use crate::driver::Driver;
use crate::faults::{heal, inject, Hurt, Injected};
use crate::schedule::{FaultKind, Step, StoreKind};
use crate::segment::Segment;
use crate::world::World;

/// How long a job may run, faults and all, before it counts as a hang.
/// Generous: the machine may be loaded, and a driver waits out a control
/// plane outage for 12 s before it gives up.
const JOB_DEADLINE: Duration = Duration::from_secs(240);
/// How often the driver is looked at between due faults.
const TICK: Duration = Duration::from_millis(20);

/// What a step showed.
pub struct StepResult {
    /// The job's verdict.
    pub verdict: Verdict,
    /// Faults injected (whether or not the job still ran).
    pub injected: Vec<FaultKind>,
    /// Driver faults due after the driver had ended.
    pub missed: u64,
    /// Jobs whose store objects were left (this job's or, for a job that
    /// went on after its driver died, an earlier one's), with a few files.
    pub leftovers: Vec<String>,
    /// Processes left after the job.
    pub orphans: Vec<String>,
    /// Ways the cluster did not recover (a fault that could not be
    /// healed, a worker that exited on its own or stayed away).
    pub unrecovered: Vec<String>,
    /// The driver's stderr, for the report of a failure.
    pub stderr: String,
    /// For a hang: what the control plane said at the deadline.
    pub forensics: String,
}

impl StepResult {
    /// Whether a check failed.
    pub fn failed(&self) -> bool {
        self.verdict.is_failure()
            || !self.leftovers.is_empty()
            || !self.orphans.is_empty()
            || !self.unrecovered.is_empty()
    }
}

/// Runs `step` on `seg`.
pub fn run_step(world: &mut World, seg: &mut Segment, step: &Step) -> anyhow::Result<StepResult> {
    let mut args = step.job.args(&world.inputs);
    args.extend(["--coord".into(), seg.coord(), "--store".into()]);
    // Not --quiet: the progress lines in its stderr file show where a job
    // that failed or hung stood.
    args.push(seg.store_url.clone());
    // Shorter than the default (30 s) so that a killed driver's objects
    // are swept soon (`segment.rs`), longer than any fault is held (7 s).
    args.extend(["--worker-timeout".into(), "3s".into()]);
    args.extend(["--outage-timeout".into(), "12s".into()]);
    // Worker faults may leave no live worker for a few seconds (every
    // worker killed, stopped or cut at once); they must cost nothing, so
    // the job waits for workers longer than any fault is held.
    args.extend(["--wait-for-workers".into(), "30s".into()]);
    let log_dir = world.dir.join(format!("seg{}", seg.index));
    let name = format!("job{:04}", step.index);
    let env = world.s3_env();
    let mut driver = Driver::spawn(&world.shoal, &args, &env, &log_dir, &name)?;
    let start = driver.started;
    let mut due: Vec<(Instant, usize)> = step
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| (start + f.at, i))
        .collect();
    let mut active: Vec<(Instant, Hurt)> = Vec::new();
    let mut hit = Vec::new();
    let mut injected = Vec::new();
    let mut missed = 0;
    let mut unrecovered = Vec::new();
    let mut forensics = String::new();
    loop {
        let now = Instant::now();
        let running = driver.running();
        while let Some(pos) = due.iter().position(|(at, _)| *at <= now) {
            let (_, i) = due.remove(pos);
            let fault = step.faults[i];
            let ran = driver.running();
            match inject(fault.kind, fault.target, world, seg, &mut driver) {
                Ok(Injected::Missed) => missed += 1,
                Ok(outcome) => {
                    world.timeline.say(&format!("  inject {fault}"));
                    injected.push(fault.kind);
                    if ran {
                        hit.push(fault.kind);
                    }
                    if let Injected::Active(hurt) = outcome {
                        active.push((Instant::now() + fault.hold, hurt));
                    }
                }
                Err(e) => unrecovered.push(format!("injecting {fault}: {e:#}")),
            }
        }
        let blocked = active.iter().any(|(_, h)| h.blocks_worker_start());
        while let Some(pos) = active
            .iter()
            .position(|(at, h)| *at <= now && !(blocked && matches!(h, Hurt::WorkerKilled(_))))
        {
            let (_, hurt) = active.remove(pos);
            world.timeline.say(&format!("  heal {hurt:?}"));
            if let Err(e) = heal(hurt, world, seg, &mut driver) {
                unrecovered.push(format!("healing {hurt:?}: {e:#}"));
            }
        }
        if !running && due.is_empty() && active.is_empty() {
            break;
        }
        if running && now >= start + JOB_DEADLINE {
            forensics = crate::forensics::snapshot(&seg.coord());
            world.timeline.say(&format!(
                "  the job outlived its deadline; the control plane says:{forensics}"
            ));
            break;
        }
        let next = due
            .iter()
            .map(|(at, _)| *at)
            .chain(active.iter().map(|(at, _)| *at))
            .min()
            .unwrap_or(now + TICK);
        std::thread::sleep(next.saturating_duration_since(Instant::now()).min(TICK));
    }
    // A hang leaves faults pending: heal them all, servers before workers
    // (a worker needs the control plane to start).
    active.sort_by_key(|(_, h)| h.is_worker());
    for (_, hurt) in active {
        if let Err(e) = heal(hurt, world, seg, &mut driver) {
            unrecovered.push(format!("healing {hurt:?}: {e:#}"));
        }
    }
    let ended = driver.end();
    let circumstances = Circumstances {
        job: step.job,
        store_on_s3: seg.topology.store == StoreKind::S3,
        faults: hit,
    };
    let verdict = judge(
        ended.status,
        &ended.stdout,
        &ended.stderr,
        world.refs.expected(step.job),
        &circumstances,
    );
    world.timeline.say(&format!(
        "  {} ended after {:.1} s: {verdict:?}",
        step.job.label(),
        ended.took.as_secs_f64()
    ));
    unrecovered.extend(seg.recover());
    let leftovers = seg
        .leftovers()
        .iter()
        .map(|(job, files)| {
            let shown: Vec<String> = files
                .iter()
                .take(3)
                .map(|f| f.display().to_string())
                .collect();
            format!("{job}: {} files ({}, …)", files.len(), shown.join(", "))
        })
        .collect();
    let orphans = seg
        .orphans(&world.mark)
        .iter()
        .map(|p| format!("pid {} (parent {}): {}", p.pid, p.ppid, p.cmdline))
        .collect();
    Ok(StepResult {
        verdict,
        injected,
        missed,
        leftovers,
        orphans,
        unrecovered,
        stderr: ended.stderr,
        forensics,
    })
}
