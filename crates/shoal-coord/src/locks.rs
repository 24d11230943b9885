//! Taking leases: locks, semaphore permits, read and write holds, and
//! [`Coordinator::lock_and_get`], which also reads keys in the granting
//! step. One acquisition loop serves them all: a first attempt, then — if
//! the caller waits — retries on a wake-up from the releasing side or after
//! a bounded, jittered backoff, never busy polling.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backend::Attempt;
use crate::coordinator::Coordinator;
use crate::error::{CoordError, Result};
use crate::guard::Guard;
use crate::kv::Versioned;
use crate::lease::{Acquire, LeaseKind, LockOptions, OwnerId};
use crate::retry::Backoff;
use crate::validate;

/// A grant and the keys read with it.
type Granted = (Guard, Vec<Option<Versioned>>);

impl Coordinator {
    /// Takes the exclusive lock `name`, waiting up to `options.wait`.
    pub async fn lock(&self, name: &str, options: &LockOptions) -> Result<Guard> {
        let request = Request::new(LeaseKind::Mutex, name, options, &[]);
        Ok(self.acquire(&request, true).await?.0)
    }

    /// Takes the lock `name`, waiting up to `options.wait`, and reads
    /// `keys` in the same step — one round trip on Redis instead of one for
    /// the lock and one per key. The values (`None` for absent keys) are
    /// those as of the grant, in the order of `keys`.
    ///
    /// Pair it with [`Guard::set_and_unlock`] for a read-modify-write under
    /// the lock in two round trips:
    ///
    /// ```no_run
    /// # async fn demo(coord: shoal_coord::Coordinator) -> Result<(), shoal_coord::CoordError> {
    /// use shoal_coord::LockOptions;
    /// let (guard, values) = coord
    ///     .lock_and_get("stock", &["stock/apples"], &LockOptions::default())
    ///     .await?;
    /// let apples: u64 = values[0]
    ///     .as_ref()
    ///     .and_then(|v| std::str::from_utf8(&v.value).ok()?.parse().ok())
    ///     .unwrap_or(0);
    /// guard
    ///     .set_and_unlock([("stock/apples", (apples + 1).to_string())])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// On Redis Cluster the keys must live in the lock's hash slot: name
    /// them with the hash tag `{lock:NAME}` (e.g. `{lock:stock}/apples`),
    /// otherwise the call fails with [`CoordError::CrossSlot`].
    pub async fn lock_and_get<K: AsRef<str>>(
        &self,
        name: &str,
        keys: &[K],
        options: &LockOptions,
    ) -> Result<Granted> {
        let keys = keys
            .iter()
            .map(|key| {
                let key = key.as_ref();
                validate::name("key", key).map(|()| key.to_owned())
            })
            .collect::<Result<Vec<_>>>()?;
        let request = Request::new(LeaseKind::Mutex, name, options, &keys);
        self.acquire(&request, true).await
    }

    /// Takes the lock `name` if it is free right now.
    pub async fn try_lock(&self, name: &str, options: &LockOptions) -> Result<Option<Guard>> {
        self.try_acquire(LeaseKind::Mutex, name, options).await
    }

    /// Takes one of `permits` permits of semaphore `name`, waiting up to
    /// `options.wait`. Every holder should pass the same `permits`.
    pub async fn acquire_permit(
        &self,
        name: &str,
        permits: u32,
        options: &LockOptions,
    ) -> Result<Guard> {
        let request = Request::new(semaphore(permits)?, name, options, &[]);
        Ok(self.acquire(&request, true).await?.0)
    }

    /// Takes a permit of semaphore `name` if one is free right now.
    pub async fn try_acquire_permit(
        &self,
        name: &str,
        permits: u32,
        options: &LockOptions,
    ) -> Result<Option<Guard>> {
        self.try_acquire(semaphore(permits)?, name, options).await
    }

    /// Takes a shared (read) hold of read-write lock `name`.
    pub async fn read_lock(&self, name: &str, options: &LockOptions) -> Result<Guard> {
        let request = Request::new(LeaseKind::Read, name, options, &[]);
        Ok(self.acquire(&request, true).await?.0)
    }

    /// Takes the exclusive (write) hold of read-write lock `name`.
    pub async fn write_lock(&self, name: &str, options: &LockOptions) -> Result<Guard> {
        let request = Request::new(LeaseKind::Write, name, options, &[]);
        Ok(self.acquire(&request, true).await?.0)
    }

    /// Takes a read hold if no writer holds `name` right now.
    pub async fn try_read_lock(&self, name: &str, options: &LockOptions) -> Result<Option<Guard>> {
        self.try_acquire(LeaseKind::Read, name, options).await
    }

    /// Takes the write hold if nobody holds `name` right now.
    pub async fn try_write_lock(&self, name: &str, options: &LockOptions) -> Result<Option<Guard>> {
        self.try_acquire(LeaseKind::Write, name, options).await
    }

    async fn try_acquire(
        &self,
        kind: LeaseKind,
        name: &str,
        options: &LockOptions,
    ) -> Result<Option<Guard>> {
        let request = Request::new(kind, name, options, &[]);
        match self.acquire(&request, false).await {
            Ok((guard, _)) => Ok(Some(guard)),
            Err(CoordError::WaitTimeout { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The acquisition loop shared by every kind. Without `wait`, a busy
    /// resource answers [`CoordError::WaitTimeout`] after one attempt.
    async fn acquire(&self, request: &Request<'_>, wait: bool) -> Result<Granted> {
        let (kind, name) = (request.kind, request.name);
        validate::name(name_label(kind), name)?;
        validate::ttl("lease TTL", request.options.ttl)?;
        let owner = OwnerId::next();
        let start = Instant::now();
        if !wait {
            return match self.attempt(request, owner, start, false, false).await? {
                Ok(granted) => Ok(granted),
                Err(_) => Err(wait_timeout(kind, name, Duration::ZERO)),
            };
        }
        // A waiting attempt that finds the resource busy queues us: leave
        // the queue however this ends without a grant (timeout, error, or
        // the caller dropping this future — even mid-request).
        let mut queued = QueuedWaiter {
            coord: self,
            kind,
            name,
            owner,
            armed: true,
        };
        // Registered before every attempt and awaited in the nap after it,
        // so a wake-up sent while the attempt was in flight is not lost.
        let wake = self.shared().wake_handle(kind, name);
        let mut notified = registered(&wake);
        let mut busy_for = match self.attempt(request, owner, start, true, false).await? {
            Ok(granted) => {
                queued.armed = false;
                return Ok(granted);
            }
            Err(busy_for) => busy_for,
        };
        let deadline = start + request.options.wait;
        // Wake-ups (and hand-offs, which wake) bring waiters in; the backoff
        // is only the net for a lost message, so it starts at a few ms
        // rather than polling a hot lock every other millisecond. Expiring
        // holds need no polling: the nap ends when the hold would.
        let mut backoff = Backoff::new(Duration::from_millis(8), Duration::from_millis(250));
        loop {
            let now = Instant::now();
            if now >= deadline {
                // Leave before answering, so that a release right after
                // this cannot hand the lease to us.
                queued.armed = false;
                let _ = self.shared().abandon_wait(kind, name, owner).await;
                return Err(wait_timeout(kind, name, now - start));
            }
            let mut nap = backoff.next_delay().min(deadline - now);
            if let Some(rest) = busy_for {
                nap = nap.min(rest + Duration::from_millis(1));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
            notified = registered(&wake);
            let sent_at = Instant::now();
            match self.attempt(request, owner, sent_at, true, true).await? {
                Ok(granted) => {
                    // The grant took us out of the queue.
                    queued.armed = false;
                    return Ok(granted);
                }
                Err(rest) => busy_for = rest,
            }
        }
    }

    /// One attempt: the guard and reads, or how long the resource stays
    /// busy (if known).
    async fn attempt(
        &self,
        request: &Request<'_>,
        owner: OwnerId,
        sent_at: Instant,
        waiting: bool,
        queued: bool,
    ) -> Result<std::result::Result<Granted, Option<Duration>>> {
        let attempt = Attempt {
            kind: request.kind,
            name: request.name,
            owner,
            ttl: request.options.ttl,
            renewing: request.options.auto_renew,
            waiting,
            queued,
            reads: request.reads,
        };
        Ok(match self.shared().acquire(&attempt).await? {
            Acquire::Granted { token, reads } => {
                let guard = Guard::new(
                    Arc::clone(self.shared()),
                    request.kind,
                    request.name.to_owned(),
                    owner,
                    token,
                    request.options,
                    sent_at,
                );
                Ok((guard, reads))
            }
            Acquire::Busy(rest) => Err(rest),
        })
    }
}

/// A wake-up of `wake`, registered now (it catches notifications from
/// this moment on, even before it is first polled).
fn registered(wake: &Arc<Notify>) -> Pin<Box<OwnedNotified>> {
    let mut notified = Box::pin(Arc::clone(wake).notified_owned());
    notified.as_mut().enable();
    notified
}

/// A waiter that may be in its resource's queue; dropped while armed (no
/// grant yet), it leaves.
struct QueuedWaiter<'a> {
    coord: &'a Coordinator,
    kind: LeaseKind,
    name: &'a str,
    owner: OwnerId,
    armed: bool,
}

impl Drop for QueuedWaiter<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.coord
                .shared()
                .abandon_wait_in_background(self.kind, self.name, self.owner);
        }
    }
}

/// What an acquisition asks for.
struct Request<'a> {
    kind: LeaseKind,
    name: &'a str,
    options: &'a LockOptions,
    reads: &'a [String],
}

impl<'a> Request<'a> {
    fn new(kind: LeaseKind, name: &'a str, options: &'a LockOptions, reads: &'a [String]) -> Self {
        Request {
            kind,
            name,
            options,
            reads,
        }
    }
}

fn wait_timeout(kind: LeaseKind, name: &str, waited: Duration) -> CoordError {
    CoordError::WaitTimeout {
        kind: kind.label(),
        name: name.to_owned(),
        waited,
    }
}

fn semaphore(permits: u32) -> Result<LeaseKind> {
    if permits == 0 {
        return Err(CoordError::InvalidOption {
            what: "semaphore permits",
            value: "0".to_owned(),
            reason: "must be at least 1",
        });
    }
    Ok(LeaseKind::Semaphore { permits })
}

fn name_label(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::Mutex => "lock name",
        LeaseKind::Semaphore { .. } => "semaphore name",
        LeaseKind::Read | LeaseKind::Write => "rwlock name",
    }
}
