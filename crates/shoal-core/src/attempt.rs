//! Running one task attempt so that a panic is a failed attempt, not a
//! crashed process. Shared by every executor.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::{TaskContext, TaskError, TaskFn};

thread_local! {
    /// Set while this thread runs task code, so the panic hook stays quiet:
    /// the panic is reported once, in the job's error, not also as a
    /// "thread panicked" line on stderr.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once per process) a panic hook that stays silent for panics
/// inside task code and defers to the previous hook everywhere else.
pub fn install_quiet_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_TASK.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `task` once; a panic becomes a retryable [`TaskError`] carrying the
/// panic message.
pub fn run_attempt(task: &TaskFn, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
    IN_TASK.with(|flag| flag.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| task(ctx)));
    IN_TASK.with(|flag| flag.set(false));
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            Err(TaskError::new(format!("task panicked: {message}")))
        }
    }
}
