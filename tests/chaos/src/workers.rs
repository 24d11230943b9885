//! The segment's worker processes `w1`…`wN`, each started through the
//! test kit's `WorkerSpec` (in its network namespace when there is one),
//! killed, paused and started again by the nemesis.

use std::process::Child;
use std::time::{Duration, Instant};

use shoal_testkit::{try_eventually, WorkerSpec};

use crate::procs;

/// How long stopped workers may take to finish and deregister.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// One worker slot: how to start it and the process now in it.
struct Slot {
    spec: WorkerSpec,
    child: Option<Child>,
    paused: bool,
}

/// The workers of one segment.
pub struct WorkerSet {
    slots: Vec<Slot>,
}

/// The name of worker `i` (from 0): `w1`, `w2`, …
pub fn name(i: usize) -> String {
    format!("w{}", i + 1)
}

impl WorkerSet {
    /// Starts one worker per spec (not waiting for them to register).
    pub fn start(specs: Vec<WorkerSpec>) -> WorkerSet {
        let slots = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| Slot {
                child: Some(spec.spawn(&name(i))),
                spec,
                paused: false,
            })
            .collect();
        WorkerSet { slots }
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The pids of the workers running now.
    pub fn pids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter_map(|s| s.child.as_ref().map(Child::id))
            .collect()
    }

    /// SIGKILLs worker `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(mut child) = slot.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        slot.paused = false;
    }

    /// Starts worker `i` again under its name, unless it runs.
    pub fn respawn(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if slot.child.is_none() {
            slot.child = Some(slot.spec.spawn(&name(i)));
        }
    }

    /// SIGSTOPs worker `i`.
    pub fn pause(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(child) = &slot.child {
            procs::signal(child.id(), libc::SIGSTOP);
            slot.paused = true;
        }
    }

    /// SIGCONTs worker `i`.
    pub fn resume(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(child) = &slot.child {
            procs::signal(child.id(), libc::SIGCONT);
        }
        slot.paused = false;
    }

    /// Workers that exited on their own since the last look (the nemesis
    /// only ever kills them itself), with their status and last log lines.
    pub fn exited(&mut self) -> Vec<String> {
        let mut gone = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let status = slot
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = status {
                slot.child = None;
                gone.push(format!(
                    "{} exited on its own ({status}); its log ends:\n{}",
                    name(i),
                    tail(&slot.spec, i, 12)
                ));
            }
        }
        gone
    }

    /// The last `lines` lines of worker `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        tail(&self.slots[i].spec, i, lines)
    }

    /// Stops every worker as an operator would (SIGCONT, then SIGTERM: in-
    /// flight tasks finish, then it deregisters); one still running after
    /// the deadline is killed and reported.
    pub fn stop(&mut self) -> Vec<String> {
        for slot in &mut self.slots {
            if let Some(child) = &slot.child {
                procs::signal(child.id(), libc::SIGCONT);
                procs::signal(child.id(), libc::SIGTERM);
            }
            slot.paused = false;
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        let mut problems = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(mut child) = slot.child.take() else {
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let status = try_eventually(left, || child.try_wait().ok().flatten()).ok();
            match status {
                Some(status) if status.success() => {}
                Some(status) => problems.push(format!(
                    "{} exited with {status} on SIGTERM; its log ends:\n{}",
                    name(i),
                    tail(&slot.spec, i, 12)
                )),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    problems.push(format!(
                        "{} ignored SIGTERM for {STOP_DEADLINE:?}; its log ends:\n{}",
                        name(i),
                        tail(&slot.spec, i, 12)
                    ));
                }
            }
        }
        problems
    }
}

impl Drop for WorkerSet {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let Some(mut child) = slot.child.take() {
                procs::signal(child.id(), libc::SIGCONT);
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn tail(spec: &WorkerSpec, i: usize, lines: usize) -> String {
    let text = std::fs::read_to_string(spec.log_path(&name(i))).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
