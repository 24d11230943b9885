//! Injecting and healing each kind of fault.

use anyhow::Result;

use crate::driver::Driver;
use crate::procs;
use crate::schedule::FaultKind;
use crate::segment::Segment;
use crate::world::World;

/// What a fault left hurt until its heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hurt {
    /// Worker killed: start it again.
    WorkerKilled(usize),
    /// Worker stopped: SIGCONT.
    WorkerPaused(usize),
    /// Worker's link down: up again.
    WorkerCut(usize),
    /// Driver stopped: SIGCONT.
    DriverPaused,
    /// Control-plane Redis killed: restart it (empty).
    ControlDown,
    /// Control-plane primary (this node) killed: finish the failover.
    ControlFailingOver(usize),
    /// S3 server killed: restart it.
    S3Down,
    /// S3 server stopped: SIGCONT.
    S3Paused,
    /// Bank Redis killed: restart it from its append-only file.
    BankDown,
    /// Bank primary (this node) killed: finish the failover.
    BankFailingOver(usize),
}

impl Hurt {
    /// Whether a worker cannot be started meanwhile: a worker gives up at
    /// once when the control plane is unreachable at its start.
    pub fn blocks_worker_start(self) -> bool {
        matches!(self, Hurt::ControlDown | Hurt::ControlFailingOver(_))
    }

    /// Whether it hurts a worker (healed after the servers).
    pub fn is_worker(self) -> bool {
        matches!(
            self,
            Hurt::WorkerKilled(_) | Hurt::WorkerPaused(_) | Hurt::WorkerCut(_)
        )
    }
}

/// What an injection did.
#[derive(Debug)]
pub enum Injected {
    /// Done, nothing to heal (a killed driver).
    Done,
    /// Hurt until healed.
    Active(Hurt),
    /// Nothing to hurt: the driver had already ended.
    Missed,
}

/// Injects `kind` (at worker `target` for worker faults).
pub fn inject(
    kind: FaultKind,
    target: usize,
    world: &mut World,
    seg: &mut Segment,
    driver: &mut Driver,
) -> Result<Injected> {
    Ok(match kind {
        FaultKind::WorkerKill => {
            seg.workers.kill(target);
            Injected::Active(Hurt::WorkerKilled(target))
        }
        FaultKind::WorkerPause => {
            seg.workers.pause(target);
            Injected::Active(Hurt::WorkerPaused(target))
        }
        FaultKind::WorkerNetCut => {
            world.net.cut(target)?;
            Injected::Active(Hurt::WorkerCut(target))
        }
        FaultKind::DriverKill if driver.running() => {
            driver.kill();
            Injected::Done
        }
        FaultKind::DriverPause if driver.running() => {
            driver.pause();
            Injected::Active(Hurt::DriverPaused)
        }
        FaultKind::DriverKill | FaultKind::DriverPause => Injected::Missed,
        FaultKind::ControlRestart => {
            seg.control.kill_primary();
            Injected::Active(Hurt::ControlDown)
        }
        FaultKind::ControlFailover => {
            Injected::Active(Hurt::ControlFailingOver(seg.control.kill_primary()))
        }
        FaultKind::S3Kill => {
            world.s3.kill();
            Injected::Active(Hurt::S3Down)
        }
        FaultKind::S3Pause => {
            procs::signal(world.s3.pid(), libc::SIGSTOP);
            Injected::Active(Hurt::S3Paused)
        }
        FaultKind::BankRestart => {
            seg.bank_redis.kill_primary();
            Injected::Active(Hurt::BankDown)
        }
        FaultKind::BankFailover => {
            seg.bank_failed_over = true;
            Injected::Active(Hurt::BankFailingOver(seg.bank_redis.kill_primary()))
        }
    })
}

/// Heals `hurt`.
pub fn heal(hurt: Hurt, world: &mut World, seg: &mut Segment, driver: &mut Driver) -> Result<()> {
    match hurt {
        Hurt::WorkerKilled(w) => seg.workers.respawn(w),
        Hurt::WorkerPaused(w) => seg.workers.resume(w),
        Hurt::WorkerCut(w) => world.net.restore(w)?,
        Hurt::DriverPaused => driver.resume(),
        Hurt::ControlDown => seg.control.restart_plain(),
        Hurt::ControlFailingOver(node) => seg.control.finish_failover(node)?,
        Hurt::S3Down => world.s3.restart(),
        Hurt::S3Paused => {
            procs::signal(world.s3.pid(), libc::SIGCONT);
        }
        Hurt::BankDown => seg.bank_redis.restart_plain(),
        Hurt::BankFailingOver(node) => seg.bank_redis.finish_failover(node)?,
    }
    Ok(())
}
