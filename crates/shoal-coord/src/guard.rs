//! [`Guard`]: a held lease (lock, permit, read or write hold), its fencing
//! token, its background renewal and its "lost" signal.
//!
//! Why a lost signal: a lease cannot by itself guarantee mutual exclusion —
//! a holder that pauses (GC, swap, SIGSTOP, a slow network) past its TTL
//! still believes it holds the lock. The guard therefore tracks a
//! conservative local deadline (the time the acquire/renew request was
//! *sent* plus the TTL) and reports the lease lost as soon as that passes
//! without a confirmed renewal, or as soon as the server says another owner
//! took over. Writers must still present [`Guard::token`] to the protected
//! resource (see [`crate::Coordinator::put_fenced`]), which refuses stale
//! holders even when they have not noticed yet.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::coordinator::Coordinator;
use crate::error::{CoordError, LostReason, Result};
use crate::lease::{LeaseKind, LockOptions, OwnerId};

/// A held lease. Released when dropped (best effort, in the background on
/// Redis) or explicitly with [`Guard::release`].
#[must_use = "the lease is released as soon as the guard is dropped"]
pub struct Guard {
    coord: Coordinator,
    kind: LeaseKind,
    name: String,
    owner: OwnerId,
    token: u64,
    lease: Lease,
    released: bool,
}

/// How long the lease lasts from the holder's point of view.
enum Lease {
    /// Until released: an embedded, auto-renewed lease. Holder and state
    /// share one process, so renewal cannot fail and there is nothing to do.
    UntilReleased,
    /// Until a deadline that renewals (manual or background) push forward.
    Timed(Arc<LeaseClock>),
}

/// The shared deadline and lost flag of a timed lease.
pub(crate) struct LeaseClock {
    base: Instant,
    /// Nanoseconds after `base` until which the lease is surely ours.
    valid_until: AtomicU64,
    /// 0 = held, otherwise a [`LostReason`] code.
    lost: AtomicU8,
    /// Set when the guard is released or dropped: renewal must stop.
    stopped: AtomicBool,
    changed: watch::Sender<()>,
    ttl: Duration,
}

impl LeaseClock {
    fn new(sent_at: Instant, ttl: Duration) -> Arc<Self> {
        let clock = LeaseClock {
            base: sent_at,
            valid_until: AtomicU64::new(0),
            lost: AtomicU8::new(0),
            stopped: AtomicBool::new(false),
            changed: watch::Sender::new(()),
            ttl,
        };
        clock.extend(sent_at);
        Arc::new(clock)
    }

    /// Records a confirmed renewal whose request was sent at `sent_at`.
    fn extend(&self, sent_at: Instant) {
        let until = (sent_at + self.ttl).saturating_duration_since(self.base);
        self.valid_until
            .fetch_max(until.as_nanos() as u64, Ordering::AcqRel);
    }

    fn deadline(&self) -> Instant {
        self.base + Duration::from_nanos(self.valid_until.load(Ordering::Acquire))
    }

    fn mark_lost(&self, reason: LostReason) {
        let code = match reason {
            LostReason::Expired => 1,
            LostReason::Stolen => 2,
            LostReason::Unreachable => 3,
        };
        if self
            .lost
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.changed.send_replace(());
        }
    }

    fn lost(&self) -> Option<LostReason> {
        match self.lost.load(Ordering::Acquire) {
            0 if Instant::now() >= self.deadline() => Some(LostReason::Expired),
            0 => None,
            1 => Some(LostReason::Expired),
            2 => Some(LostReason::Stolen),
            _ => Some(LostReason::Unreachable),
        }
    }
}

impl Guard {
    /// Wraps a fresh grant. `sent_at` is when the granting request left, so
    /// the local deadline never outlives the server's.
    pub(crate) fn new(
        coord: Coordinator,
        kind: LeaseKind,
        name: String,
        owner: OwnerId,
        token: u64,
        options: &LockOptions,
        sent_at: Instant,
    ) -> Self {
        let (ttl, auto_renew) = (options.ttl, options.auto_renew);
        let lease = if auto_renew && coord.is_embedded() {
            Lease::UntilReleased
        } else {
            let clock = LeaseClock::new(sent_at, ttl);
            if auto_renew {
                spawn_renewal(coord.clone(), kind, name.clone(), owner, Arc::clone(&clock));
            }
            Lease::Timed(clock)
        };
        Guard {
            coord,
            kind,
            name,
            owner,
            token,
            lease,
            released: false,
        }
    }

    /// The fencing token of this grant: strictly greater than the token of
    /// every earlier grant of the same resource. Present it to whatever the
    /// lease protects so stale holders can be refused.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What kind of hold this is.
    pub fn kind(&self) -> LeaseKind {
        self.kind
    }

    /// Whether the lease is known or presumed lost (its local deadline
    /// passed without renewal, or the server refused a renewal).
    pub fn is_lost(&self) -> bool {
        self.lost_reason().is_some()
    }

    /// Why the lease was lost, if it was.
    pub fn lost_reason(&self) -> Option<LostReason> {
        match &self.lease {
            Lease::UntilReleased => None,
            Lease::Timed(clock) => clock.lost(),
        }
    }

    /// Completes when the lease is lost; never completes for a lease that
    /// cannot be lost (embedded with renewal). Select on it next to the
    /// protected work and stop writing when it fires.
    pub async fn lost(&self) -> LostReason {
        let Lease::Timed(clock) = &self.lease else {
            return std::future::pending().await;
        };
        let mut changes = clock.changed.subscribe();
        loop {
            if let Some(reason) = clock.lost() {
                return reason;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep_until(clock.deadline()) => {}
            }
        }
    }

    /// Extends the lease by its TTL now (for guards without auto-renewal).
    /// Fails with [`CoordError::LeaseLost`] if the server no longer lists us.
    pub async fn renew(&self) -> Result<()> {
        let Lease::Timed(clock) = &self.lease else {
            return Ok(());
        };
        if let Some(reason) = clock.lost() {
            return Err(self.lost_error(reason));
        }
        let sent_at = Instant::now();
        if self
            .coord
            .renew_raw(self.kind, &self.name, self.owner, clock.ttl)
            .await?
        {
            clock.extend(sent_at);
            Ok(())
        } else {
            clock.mark_lost(LostReason::Stolen);
            Err(self.lost_error(LostReason::Stolen))
        }
    }

    /// Releases the lease now. Fails with [`CoordError::LeaseLost`] if it
    /// had already been lost (someone else may have held it meanwhile).
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        self.stop_renewal();
        let was_ours = self
            .coord
            .release_raw(self.kind, &self.name, self.owner)
            .await?;
        if was_ours {
            Ok(())
        } else {
            Err(self.lost_error(self.lost_reason().unwrap_or(LostReason::Stolen)))
        }
    }

    fn lost_error(&self, reason: LostReason) -> CoordError {
        CoordError::LeaseLost {
            kind: self.kind.label(),
            name: self.name.clone(),
            reason,
        }
    }

    fn stop_renewal(&self) {
        if let Lease::Timed(clock) = &self.lease {
            clock.stopped.store(true, Ordering::Release);
            clock.changed.send_replace(());
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.released {
            self.stop_renewal();
            self.coord
                .release_in_background(self.kind, &self.name, self.owner);
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("token", &self.token)
            .field("lost", &self.lost_reason())
            .finish()
    }
}

/// Renews every TTL/3 until the guard is released or dropped (which sets
/// `stopped` and wakes the task) or the lease is lost.
fn spawn_renewal(
    coord: Coordinator,
    kind: LeaseKind,
    name: String,
    owner: OwnerId,
    clock: Arc<LeaseClock>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let period = clock.ttl / 3;
        let mut next = Instant::now() + period;
        let mut changes = clock.changed.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = changes.changed() => {}
            }
            if clock.stopped.load(Ordering::Acquire) || clock.lost.load(Ordering::Acquire) != 0 {
                return;
            }
            if Instant::now() < next {
                continue;
            }
            let now = Instant::now();
            if now >= clock.deadline() {
                // Paused past the lease (SIGSTOP, stalled runtime): it may
                // already belong to someone else; do not try to revive it.
                clock.mark_lost(LostReason::Expired);
                return;
            }
            let budget = clock.deadline() - now;
            match tokio::time::timeout(budget, coord.renew_raw(kind, &name, owner, clock.ttl)).await
            {
                Ok(Ok(true)) => {
                    clock.extend(now);
                    next = now + period;
                }
                Ok(Ok(false)) => {
                    clock.mark_lost(LostReason::Stolen);
                    return;
                }
                Ok(Err(_)) | Err(_) => {
                    if Instant::now() >= clock.deadline() {
                        clock.mark_lost(LostReason::Unreachable);
                        return;
                    }
                    // Retry soon, but never spin: at least 10 ms apart.
                    next = Instant::now() + (period / 4).max(Duration::from_millis(10));
                }
            }
        }
    });
}
