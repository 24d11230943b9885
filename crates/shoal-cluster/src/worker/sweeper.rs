//! The workers' sweep of abandoned and ended jobs' objects (see
//! `abandoned.rs`): once a second, whichever worker takes the turn.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Worker;
use crate::control::Control;
use crate::{abandoned, keys};

/// How often the cluster sweeps (one worker per period).
const PERIOD: Duration = Duration::from_secs(1);

impl Worker {
    /// Sweeps when it is this worker's turn, until the worker stops.
    pub(super) fn sweep_loop(&self) {
        let Ok(mut control) = self.control() else {
            return;
        };
        let mut next = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if Instant::now() >= next {
                next = Instant::now() + PERIOD;
                if self.take_sweep_turn(&mut control) {
                    if let Err(err) = abandoned::sweep(&mut control, &self.store) {
                        tracing::warn!("sweep failed: {err}");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether no other worker swept within the last period (then this one
    /// does). Unreachable Redis: no turn.
    fn take_sweep_turn(&self, control: &mut Control) -> bool {
        let taken: Option<String> = control
            .run("SET sweeper", Duration::ZERO, |c| {
                redis::cmd("SET")
                    .arg(keys::SWEEPER)
                    .arg(&self.config.name)
                    .arg("NX")
                    .arg("PX")
                    .arg(PERIOD.as_millis() as u64)
                    .query(c)
            })
            .unwrap_or(None);
        taken.is_some()
    }
}
