//! Deferred wake-ups. When a lock or permit is released while its longest
//! waiter has waited less than the bypass bound, the release script leaves
//! the wake-up to the releasing client (see the module docs of
//! [`super::lease_scripts`]). The client sends it — a `NUDGE` script that
//! wakes the longest waiter if the lease is still free — [`RELOCK_GRACE`]
//! later, from a task of its own. A holder that relocks straight away has
//! by then asked for the lease again, which settles the wake-up without a
//! round trip: granted, its own next release decides; refused, the new
//! holder's release will.
//!
//! Why a grace period and not "as soon as the releasing task yields": the
//! releasing code may run outside the runtime's workers (the body of
//! `#[tokio::main]` or `block_on`), and then a spawned task runs at once,
//! in parallel, and would beat the relock. A waiter this young (queued
//! less than 10 ms ago) would otherwise wait for its backoff or for the
//! next hand-off, so 1 ms costs it little.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use std::time::Duration;

use super::lease_scripts::NUDGE;
use super::{wake_payload, RedisBackend};
use crate::lease::LeaseKind;

/// How long a releasing client gives itself to relock before it wakes a
/// young waiter.
pub(crate) const RELOCK_GRACE: Duration = Duration::from_millis(1);

/// Wake-ups this client owes, by lease key base, each tagged with the
/// release that left it (so the task of an earlier release, settled since,
/// cannot send a later release's wake-up early).
#[derive(Default)]
pub(crate) struct DeferredWakes {
    pending: Arc<Mutex<HashMap<String, u64>>>,
    releases: AtomicU64,
}

impl DeferredWakes {
    /// This client asks for the lease at `base` again: a pending wake-up
    /// for it is no longer needed.
    pub(crate) fn settle(&self, base: &str) {
        let mut pending = self.pending.lock();
        if !pending.is_empty() {
            pending.remove(base);
        }
    }

    /// Sends the wake-up for the lease at `base` unless this client asks
    /// for the lease again within [`RELOCK_GRACE`]. Without a Tokio runtime
    /// nothing is sent: waiters then find the lease free on their next
    /// backoff step.
    pub(crate) fn defer(&self, backend: &RedisBackend, kind: LeaseKind, name: &str, base: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let holder = match kind {
            LeaseKind::Write => format!("{base}:w"),
            _ => base.clone(),
        };
        let mut call = NUDGE.key(holder);
        call.key(format!("{base}:q")).key(format!("{base}:s"));
        call.arg(wake_payload(kind, name));
        match kind {
            LeaseKind::Semaphore { permits } => call.arg(permits),
            _ => call.arg("m"),
        };
        let mut conn = backend.conn();
        let within = backend.op_timeout;
        let pending = Arc::clone(&self.pending);
        let release = self.releases.fetch_add(1, Ordering::Relaxed);
        pending.lock().insert(base.clone(), release);
        runtime.spawn(async move {
            tokio::time::sleep(RELOCK_GRACE).await;
            {
                let mut pending = pending.lock();
                if pending.get(&base) != Some(&release) {
                    return;
                }
                pending.remove(&base);
            }
            let sent = tokio::time::timeout(within, call.invoke_async::<i64>(&mut conn)).await;
            if !matches!(sent, Ok(Ok(_))) {
                // Waiters still retry on their own backoff.
                tracing::debug!(lease = %base, "deferred wake-up failed");
            }
        });
    }
}
