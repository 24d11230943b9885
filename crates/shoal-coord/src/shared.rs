//! [`Shared`]: what every handle of one coordinator and every guard it
//! granted share — the active backend, the renewal scheduler, the URL and
//! the settings — and the lease steps, dispatched to the backend.
//!
//! Guards hold this, not the [`crate::Coordinator`]: a lease needs only
//! the backend that granted it (to renew and release) and the scheduler
//! that renews it, and the module graph stays one way —
//! `coordinator.rs`, `locks.rs` and `guard.rs` build on this module, which
//! knows none of them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::backend::{Attempt, Conflict, CoordBackend, Release, Released, TxWrite};
use crate::config::CoordConfig;
use crate::embedded::EmbeddedBackend;
use crate::error::Result;
use crate::lease::{Acquire, LeaseKind, OwnerId};
use crate::redis::RedisBackend;
use crate::renewal::{Renew, Renewer};
use crate::url::CoordUrl;

/// One coordinator's state, behind every clone of its handle and every
/// guard it granted.
pub(crate) struct Shared {
    pub(crate) url: CoordUrl,
    pub(crate) config: CoordConfig,
    pub(crate) backend: Backend,
    /// Keeps this coordinator's auto-renewed leases alive.
    renewer: Arc<Renewer>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The scheduler holds this only weakly; stop it with it.
        self.renewer.shut_down();
    }
}

/// The backend a coordinator's URL chose.
pub(crate) enum Backend {
    // Boxed: both backends are large and the enum sits in an Arc.
    Embedded(Box<EmbeddedBackend>),
    Redis(Box<RedisBackend>),
}

/// Calls the same method on whichever backend is active (static dispatch:
/// no boxing on the embedded fast path).
macro_rules! on_backend {
    ($shared:expr, $b:ident => $call:expr) => {
        match &$shared.backend {
            $crate::shared::Backend::Embedded($b) => $call,
            $crate::shared::Backend::Redis($b) => $call,
        }
    };
}
pub(crate) use on_backend;

impl Shared {
    /// State for `backend`, opened from `url` with `config`.
    pub(crate) fn new(url: CoordUrl, config: CoordConfig, backend: Backend) -> Arc<Self> {
        Arc::new(Shared {
            url,
            config,
            backend,
            renewer: Arc::default(),
        })
    }

    pub(crate) fn is_embedded(&self) -> bool {
        matches!(self.backend, Backend::Embedded(_))
    }

    pub(crate) fn renewer(&self) -> &Arc<Renewer> {
        &self.renewer
    }

    pub(crate) async fn acquire(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
        on_backend!(self, b => b.acquire(attempt).await)
    }

    pub(crate) async fn abandon_wait(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) -> Result<()> {
        on_backend!(self, b => b.abandon_wait(kind, name, owner).await)
    }

    /// [`Shared::abandon_wait`] from a destructor, on the current Tokio
    /// runtime (without one, the queue entry ages out within seconds).
    pub(crate) fn abandon_wait_in_background(
        self: &Arc<Self>,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) {
        if self.is_embedded() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = Arc::clone(self);
            let name = name.to_owned();
            runtime.spawn(async move {
                let _ = shared.abandon_wait(kind, &name, owner).await;
            });
        }
    }

    pub(crate) fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify> {
        on_backend!(self, b => b.wake_handle(kind, name))
    }

    pub(crate) async fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        on_backend!(self, b => b.renew(kind, name, owner, ttl).await)
    }

    pub(crate) async fn release(&self, release: &Release<'_>) -> Result<Released> {
        on_backend!(self, b => b.release(release).await)
    }

    /// Releases from a destructor: synchronously embedded, on the current
    /// Tokio runtime for Redis (without one, the lease simply expires).
    pub(crate) fn release_in_background(
        self: &Arc<Self>,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) {
        let release = Release {
            kind,
            name,
            owner,
            token: 0,
            writes: &[],
        };
        match &self.backend {
            Backend::Embedded(b) => {
                b.release_now(&release);
            }
            Backend::Redis(_) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let shared = Arc::clone(self);
                    let name = name.to_owned();
                    runtime.spawn(async move {
                        let release = Release {
                            kind,
                            name: &name,
                            owner,
                            token: 0,
                            writes: &[],
                        };
                        if let Err(err) = shared.release(&release).await {
                            tracing::warn!(%err, "releasing {} {name:?} failed; it will expire", kind.label());
                        }
                    });
                }
            }
        }
    }

    pub(crate) async fn commit(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Result<Option<Conflict>> {
        on_backend!(self, b => b.commit(reads, writes).await)
    }
}

impl Renew for Shared {
    async fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        Shared::renew(self, kind, name, owner, ttl).await
    }
}
