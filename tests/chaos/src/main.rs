//! The nemesis: Shoal's seeded chaos harness.
//!
//! Runs a real cluster — Redis (plain, or behind Sentinels), worker
//! processes (each in a network namespace of its own), an S3 server and a
//! shared directory store — and a bank workload on a Redis of its own,
//! and, while a stream of jobs runs, injects faults chosen from a seed:
//! SIGKILL and SIGSTOP/SIGCONT of workers and drivers, SIGKILL of the
//! control plane with an empty restart, Sentinel failovers, the S3 server
//! killed or stopped, a worker's network cut, the bank's Redis killed
//! (restarted from its append-only file) or failed over. The checker
//! (`checker.rs`, `bank.rs`) knows what each fault may cost and verifies
//! it; the table (`report.rs`) counts it all. A failure prints its seed;
//! the same seed replays the same schedule (`schedule.rs`).
//!
//! ```text
//! main ─ World (run: network, S3 server, inputs, embedded outputs)
//!          └─ Segment k (cluster: control plane, store, workers; bank)
//!               └─ Step i: driver ─ inject/heal faults ─ judge ─ recover, leftovers, orphans
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

mod args;
mod bank;
mod checker;
mod driver;
mod faults;
mod forensics;
mod jobs;
mod net;
mod procs;
mod redis;
mod report;
mod schedule;
mod segment;
mod step;
mod workers;
mod world;

use args::Args;
use report::Tally;
use schedule::{Schedule, Step, Topology};
use segment::Segment;
use step::StepResult;
use world::World;

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.resolve();
    let netns = !args.no_netns;
    eprintln!(
        "shoal-chaos: seed {seed}, {} minutes, {} workers, {}",
        args.minutes,
        args.workers,
        if netns {
            "each in a network namespace"
        } else {
            "on 127.0.0.1"
        }
    );
    if netns && unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "shoal-chaos: network namespaces need root; run as root, or pass --no-netns \
             (no network cuts then)"
        );
        return ExitCode::from(2);
    }
    let Some(shoal) = shoal_binary(&args) else {
        eprintln!(
            "shoal-chaos: no shoal binary next to this program; build it \
             (cargo build -p shoal-cli) or pass --shoal PATH"
        );
        return ExitCode::from(2);
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    let mut tally = Tally::default();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&args, seed, shoal, netns, &stop, &mut tally)
    }));
    let setup_error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(panic) => Some(format!(
            "the harness panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    if let Some(e) = &setup_error {
        tally.failures.push(e.clone());
    }
    println!("{}", tally.table());
    if tally.passed() {
        println!("PASS (seed {seed})");
        return ExitCode::SUCCESS;
    }
    println!("FAIL (seed {seed})");
    for failure in &tally.failures {
        println!("\n{failure}");
    }
    for violation in &tally.bank.violations {
        println!("\nbank: {violation}");
    }
    println!(
        "\nreplay: tests/chaos/run.sh --seed {seed} --minutes {} --jobs {}{}",
        args.minutes,
        tally.jobs,
        if netns { "" } else { " --no-netns" }
    );
    ExitCode::FAILURE
}

/// `--shoal`, or `shoal` next to this program.
fn shoal_binary(args: &Args) -> Option<std::path::PathBuf> {
    let path = match &args.shoal {
        Some(path) => path.clone(),
        None => std::env::current_exe().ok()?.with_file_name("shoal"),
    };
    path.is_file()
        .then(|| std::fs::canonicalize(&path).unwrap_or(path))
}

/// The job stream, segment by segment, until time or `--jobs` runs out,
/// a step fails (unless `--keep-going`) or a signal asks to stop.
fn run(
    args: &Args,
    seed: u64,
    shoal: std::path::PathBuf,
    netns: bool,
    stop: &AtomicBool,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let workers = args.workers as usize;
    let mut world = World::setup(seed, shoal, workers, netns)?;
    let schedule = Schedule::new(seed, workers, netns);
    let until = Instant::now() + Duration::from_secs_f64(args.minutes * 60.0);
    let mut segment: Option<Segment> = None;
    let mut failed = false;
    for index in 0.. {
        let out_of_jobs = args.jobs.is_some_and(|n| index >= n);
        if out_of_jobs || Instant::now() >= until || stop.load(Ordering::SeqCst) {
            break;
        }
        if failed && !args.keep_going {
            break;
        }
        let step = schedule.step(index);
        if segment.as_ref().map(|s| s.index) != Some(step.segment) {
            if let Some(done) = segment.take() {
                end_segment(&world, done, tally);
            }
            let topology = Topology::of_segment(step.segment);
            world.timeline.say(&format!(
                "segment {}: {topology}: starting the cluster and the bank",
                step.segment
            ));
            segment = Some(Segment::start(&world, step.segment)?);
            tally.segments += 1;
        }
        let seg = segment.as_mut().expect("a segment was started");
        describe(&world, &step);
        let result = step::run_step(&mut world, seg, &step)?;
        failed |= record(tally, &step, &result, seed);
    }
    if let Some(done) = segment.take() {
        end_segment(&world, done, tally);
    }
    let mark = world.mark.clone();
    world.timeline.say("tearing down");
    let keep = args.keep || !tally.passed();
    let dir = world.dir.clone();
    drop(world);
    let strays = procs::marked(&mark);
    if !strays.is_empty() {
        tally.orphans += strays.len() as u64;
        let list: Vec<String> = strays
            .iter()
            .map(|p| format!("pid {}: {}", p.pid, p.cmdline))
            .collect();
        tally.failures.push(format!(
            "left running after the teardown:\n  {}",
            list.join("\n  ")
        ));
        procs::kill_marked(&mark);
    }
    if keep {
        // Renamed: a later run clears the directories of dead runs.
        let kept = world::kept_dir(&dir);
        let shown = match std::fs::rename(&dir, &kept) {
            Ok(()) => kept,
            Err(_) => dir,
        };
        eprintln!("shoal-chaos: the run's logs are in {}", shown.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn describe(world: &World, step: &Step) {
    let faults: Vec<String> = step.faults.iter().map(|f| f.to_string()).collect();
    world.timeline.say(&format!(
        "step {} (segment {}): {}{}",
        step.index,
        step.segment,
        step.job.label(),
        if faults.is_empty() {
            ", no fault".to_string()
        } else {
            format!(", {}", faults.join("; "))
        }
    ));
}

/// Counts a step; returns whether it failed (and records how).
fn record(tally: &mut Tally, step: &Step, result: &StepResult, seed: u64) -> bool {
    for kind in &result.injected {
        *tally.faults.entry(*kind).or_default() += 1;
    }
    tally.missed += result.missed;
    tally.count(&result.verdict);
    tally.leftovers += result.leftovers.len() as u64;
    tally.orphans += result.orphans.len() as u64;
    tally.unrecovered += u64::from(!result.unrecovered.is_empty());
    if !result.failed() {
        return false;
    }
    let faults: Vec<String> = step.faults.iter().map(|f| f.to_string()).collect();
    let mut text = format!(
        "step {} of seed {seed} (segment {}: {}): {} with faults [{}]\n  verdict: {:?}",
        step.index,
        step.segment,
        Topology::of_segment(step.segment),
        step.job.label(),
        faults.join("; "),
        result.verdict
    );
    for (what, list) in [
        ("left in the store", &result.leftovers),
        ("orphan processes", &result.orphans),
        ("did not recover", &result.unrecovered),
    ] {
        if !list.is_empty() {
            let shown: Vec<&String> = list.iter().take(10).collect();
            text.push_str(&format!("\n  {what} ({}): {shown:?}", list.len()));
        }
    }
    if !result.forensics.is_empty() {
        text.push_str(&format!(
            "\n  control plane at the deadline:{}",
            result.forensics
        ));
    }
    let stderr: Vec<&str> = result.stderr.lines().rev().take(12).collect();
    let stderr: Vec<&str> = stderr.into_iter().rev().collect();
    text.push_str(&format!(
        "\n  driver stderr ends:\n    {}",
        stderr.join("\n    ")
    ));
    tally.failures.push(text);
    true
}

fn end_segment(world: &World, mut segment: Segment, tally: &mut Tally) {
    let index = segment.index;
    // Objects a task of an earlier job committed after that job's checks.
    let late = segment.leftovers();
    if !late.is_empty() {
        tally.leftovers += late.len() as u64;
        let jobs: Vec<String> = late
            .iter()
            .map(|(job, files)| format!("{job}: {} files", files.len()))
            .collect();
        tally.failures.push(format!(
            "segment {index} ends with objects in its store: {}",
            jobs.join(", ")
        ));
    }
    let (bank, problems) = segment.finish();
    world.timeline.say(&format!(
        "segment {index} ends: bank applied {}, refused {}, unknown {}, lost {}, audits {}, violations {}",
        bank.applied,
        bank.rejected,
        bank.unknown,
        bank.lost,
        bank.audits,
        bank.violations.len()
    ));
    if let Some((first, last)) = bank.lost_window {
        // Where the lost ones fall against the failover's time in this
        // log says what lost them: a replica's lag loses the last few
        // before it, never a stretch after it.
        world.timeline.say(&format!(
            "  the lost transfers were acknowledged from {:.1} s to {:.1} s after the bank started",
            first.as_secs_f64(),
            last.as_secs_f64()
        ));
    }
    if !problems.is_empty() {
        tally.unrecovered += 1;
        tally.failures.push(format!(
            "stopping segment {index}'s workers: {}",
            problems.join("\n")
        ));
    }
    tally.add_bank(bank);
}
