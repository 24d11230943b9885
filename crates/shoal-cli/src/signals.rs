//! Stopping gracefully on SIGTERM and Ctrl-C.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::CliError;

/// Sets `stop` when the process receives SIGTERM or SIGINT (Ctrl-C)
/// instead of dying at once, so a loop that checks the flag — a worker
/// finishing its in-flight tasks — can end cleanly.
pub fn stop_on_signals(stop: &Arc<AtomicBool>) -> Result<(), CliError> {
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).map_err(|e| {
            CliError::Failed(anyhow::Error::new(e).context("installing the signal handler"))
        })?;
    }
    Ok(())
}
