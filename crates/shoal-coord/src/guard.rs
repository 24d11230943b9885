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

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use crate::backend::{Release, Released, TxWrite};
use crate::error::{CoordError, LostReason, Result};
use crate::lease::{LeaseKind, LockOptions, OwnerId};
use crate::renewal::{LeaseClock, Registration};
use crate::shared::Shared;
use crate::validate;

/// A held lease. Released when dropped (best effort, in the background on
/// Redis) or explicitly with [`Guard::release`].
#[must_use = "the lease is released as soon as the guard is dropped"]
pub struct Guard {
    /// The backend that granted the lease and the scheduler renewing it.
    shared: Arc<Shared>,
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
    /// Until a deadline that only manual renewals push forward.
    Timed(Arc<LeaseClock>),
    /// Until a deadline that the coordinator's renewer pushes forward.
    Renewed(Registration),
}

impl Guard {
    /// Wraps a fresh grant. `sent_at` is when the granting request left, so
    /// the local deadline never outlives the server's.
    pub(crate) fn new(
        shared: Arc<Shared>,
        kind: LeaseKind,
        name: String,
        owner: OwnerId,
        token: u64,
        options: &LockOptions,
        sent_at: Instant,
    ) -> Self {
        let (ttl, auto_renew) = (options.ttl, options.auto_renew);
        let lease = if auto_renew && shared.is_embedded() {
            Lease::UntilReleased
        } else if auto_renew {
            let clock = LeaseClock::new(sent_at, ttl);
            Lease::Renewed(
                shared
                    .renewer()
                    .register(&shared, clock, kind, name.clone(), owner),
            )
        } else {
            Lease::Timed(LeaseClock::new(sent_at, ttl))
        };
        Guard {
            shared,
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
        self.clock().and_then(|clock| clock.lost())
    }

    /// The deadline of a lease that can be lost.
    fn clock(&self) -> Option<&Arc<LeaseClock>> {
        match &self.lease {
            Lease::UntilReleased => None,
            Lease::Timed(clock) => Some(clock),
            Lease::Renewed(registration) => Some(registration.clock()),
        }
    }

    /// Completes when the lease is lost; never completes for a lease that
    /// cannot be lost (embedded with renewal). Select on it next to the
    /// protected work and stop writing when it fires.
    pub async fn lost(&self) -> LostReason {
        match self.clock() {
            Some(clock) => clock.wait_lost().await,
            None => std::future::pending().await,
        }
    }

    /// Extends the lease by its TTL now (for guards without auto-renewal).
    /// Fails with [`CoordError::LeaseLost`] if the server no longer lists us.
    pub async fn renew(&self) -> Result<()> {
        let Some(clock) = self.clock() else {
            return Ok(());
        };
        if let Some(reason) = clock.lost() {
            return Err(self.lost_error(reason));
        }
        let sent_at = Instant::now();
        if self
            .shared
            .renew(self.kind, &self.name, self.owner, clock.ttl)
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
    pub async fn release(self) -> Result<()> {
        self.finish(&[]).await
    }

    /// Writes `puts` and releases the lease in one atomic step — one round
    /// trip on Redis instead of one per key plus one for the release — if
    /// the lease is still ours. If it is not, nothing is written and the
    /// call fails with [`CoordError::LeaseLost`], so a holder that lost its
    /// lease (paused past the TTL) cannot overwrite its successor's work.
    ///
    /// The writes are fenced with this guard's token, exactly as
    /// [`Coordinator::put_fenced`]`(key, value, guard.name(), guard.token())`
    /// would be: a key that already accepted a newer token of this name
    /// refuses them all with [`CoordError::StaleToken`] (the lease is
    /// released all the same), and later fenced writes with older tokens
    /// are refused. The written keys get no expiry.
    ///
    /// Use it with [`Coordinator::lock_and_get`]: a locked
    /// read-modify-write then takes two round trips instead of four. Plain
    /// [`Coordinator::get`]/[`Coordinator::put`] under a [`Guard`] remain
    /// the tool when the keys to touch are only known after reading others.
    /// On Redis Cluster the keys must share the lock's hash slot (see
    /// [`Coordinator::lock_and_get`]).
    pub async fn set_and_unlock<K: AsRef<str>, V: Into<Bytes>>(
        self,
        puts: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let mut writes: Vec<(String, TxWrite)> = Vec::new();
        for (key, value) in puts {
            let (key, value) = (key.as_ref(), value.into());
            validate::name("key", key)?;
            validate::value(key, value.len())?;
            writes.push((key.to_owned(), Some((value, None))));
        }
        self.finish(&writes).await
    }

    /// Applies `writes` if the lease is still ours, then ends it.
    async fn finish(mut self, writes: &[(String, TxWrite)]) -> Result<()> {
        self.released = true;
        self.stop_renewal();
        let release = Release {
            kind: self.kind,
            name: &self.name,
            owner: self.owner,
            token: self.token,
            writes,
        };
        match self.shared.release(&release).await? {
            Released::Released => Ok(()),
            Released::NotOurs => {
                Err(self.lost_error(self.lost_reason().unwrap_or(LostReason::Stolen)))
            }
            Released::Refused { index, newest } => Err(CoordError::StaleToken {
                key: validate::shorten(&writes[index].0),
                lock: validate::shorten(&self.name),
                token: self.token,
                newest,
            }),
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
        if let Lease::Renewed(registration) = &self.lease {
            self.shared.renewer().cancel(registration);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.released {
            self.stop_renewal();
            self.shared
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
