//! Whether a job is still wanted, as a worker sees it.
//!
//! Workers ask Redis whether a job's driver is alive and the job still
//! running before they start a task and before they commit one, cached for
//! [`RECHECK`] so tiny tasks stay cheap. When Redis cannot answer, the
//! last answer stands only for as long as this worker's own heartbeat
//! would: past that, the driver has reclaimed our tasks anyway, and a
//! commit now could only land after the job ended and leave an orphan.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::control::Control;
use crate::{keys, ClusterError};

/// How long an answer is reused.
const RECHECK: Duration = Duration::from_millis(250);

/// States after which a job never runs again (`abandoned` is not one: a
/// driver that was only cut off takes its job up again).
const FINAL_STATES: [&str; 3] = ["succeeded", "failed", "cancelled"];

/// A job's state as Redis reports it.
struct Reading {
    /// The driver's liveness key exists.
    driver_alive: bool,
    /// The job hash's `state` field (none: no such job, or Redis lost it).
    state: Option<String>,
}

/// What this worker last learned about one job.
pub(super) struct Liveness {
    last: Mutex<Last>,
}

struct Last {
    asked_at: Instant,
    confirmed_at: Instant,
    alive: bool,
}

impl Liveness {
    /// A job just loaded from its spec, which only a running job has.
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Liveness {
            last: Mutex::new(Last {
                asked_at: now,
                confirmed_at: now,
                alive: true,
            }),
        }
    }

    /// Whether the job's driver is alive and the job still running.
    /// `patience` is how long an old "yes" survives Redis being unreachable.
    pub(super) fn is_alive(&self, control: &mut Control, job_id: &str, patience: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        // Only a "yes" is reused: a "no" is asked again, since a job can
        // come back (republished after a failover or a restart).
        if last.alive && last.asked_at.elapsed() < RECHECK {
            return true;
        }
        last.asked_at = Instant::now();
        match read(control, job_id) {
            Ok(reading) => {
                last.alive = reading.driver_alive && reading.state.as_deref() == Some("running");
                last.confirmed_at = Instant::now();
            }
            Err(_) => last.alive = last.alive && last.confirmed_at.elapsed() < patience,
        }
        last.alive
    }
}

/// Whether Redis says, right now, that the job is over for good. Unknown
/// (unreachable, or no job hash as after a Redis restart) is not over.
pub(super) fn has_ended(control: &mut Control, job_id: &str) -> bool {
    read(control, job_id).is_ok_and(|reading| {
        reading
            .state
            .is_some_and(|state| FINAL_STATES.contains(&state.as_str()))
    })
}

fn read(control: &mut Control, job_id: &str) -> Result<Reading, ClusterError> {
    let (driver_alive, state) = control.run("job liveness", Duration::ZERO, |c| {
        redis::pipe()
            .cmd("EXISTS")
            .arg(keys::job_alive(job_id))
            .cmd("HGET")
            .arg(keys::job(job_id))
            .arg("state")
            .query::<(bool, Option<String>)>(c)
    })?;
    Ok(Reading {
        driver_alive,
        state,
    })
}
