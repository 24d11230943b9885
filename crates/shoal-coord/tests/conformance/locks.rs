//! Lock, semaphore and read-write lock conformance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_coord::{CoordError, LockOptions, LostReason};

use crate::common::Fixture;

/// 16 holders × 500 read-modify-writes of a plain key under the lock.
pub async fn mutual_exclusion_16_holders(fx: &Fixture) {
    const HOLDERS: usize = 16;
    const ROUNDS: u64 = 500;
    fx.coord.put("mx/value", "0").await.unwrap();
    let opts = LockOptions::default().wait(Duration::from_secs(60));
    let mut tasks = Vec::new();
    for _ in 0..HOLDERS {
        let coord = fx.client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let guard = coord.lock("mx", &opts).await.unwrap();
                let current = coord.get("mx/value").await.unwrap().unwrap();
                let n: u64 = std::str::from_utf8(&current.value)
                    .unwrap()
                    .parse()
                    .unwrap();
                coord.put("mx/value", (n + 1).to_string()).await.unwrap();
                guard.release().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = fx.coord.get("mx/value").await.unwrap().unwrap();
    assert_eq!(
        &last.value[..],
        (HOLDERS as u64 * ROUNDS).to_string().as_bytes()
    );
}

/// A holder stalled past its lease loses it; the next holder gets a larger
/// token; the stale holder's fenced write is refused.
pub async fn fencing_stalled_holder(fx: &Fixture) {
    let ttl = Duration::from_millis(400);
    let stale = fx
        .coord
        .lock("fence", &LockOptions::default().ttl(ttl).auto_renew(false))
        .await
        .unwrap();
    assert!(!stale.is_lost());
    let other = fx.client().await;
    let started = Instant::now();
    let fresh = other
        .lock(
            "fence",
            &LockOptions::default().ttl(ttl).wait(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < ttl + Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert!(
        fresh.token() > stale.token(),
        "{} <= {}",
        fresh.token(),
        stale.token()
    );
    // The stalled holder learns promptly that its lease is gone.
    let reason = tokio::time::timeout(Duration::from_millis(100), stale.lost())
        .await
        .expect("lost() should fire once the lease ran out");
    assert_eq!(reason, LostReason::Expired);
    other
        .put_fenced("fenced/key", "fresh", "fence", fresh.token())
        .await
        .unwrap();
    let err = fx
        .coord
        .put_fenced("fenced/key", "stale", "fence", stale.token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordError::StaleToken { token, newest, .. } if token == stale.token() && newest == fresh.token()),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        &fx.coord.get("fenced/key").await.unwrap().unwrap().value[..],
        b"fresh"
    );
    assert!(matches!(
        stale.release().await,
        Err(CoordError::LeaseLost { .. })
    ));
    fresh.release().await.unwrap();
}

/// try_lock on a busy lock answers None; only the owner's release counts;
/// tokens strictly increase across grants.
pub async fn try_lock_and_owner_only_release(fx: &Fixture) {
    let opts = LockOptions::default();
    let first = fx
        .coord
        .try_lock("t", &opts)
        .await
        .unwrap()
        .expect("free lock");
    let other = fx.client().await;
    assert!(other.try_lock("t", &opts).await.unwrap().is_none());
    let err = other
        .lock("t", &opts.wait(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordError::WaitTimeout { .. }), "{err}");
    assert!(err.is_retryable());
    let first_token = first.token();
    first.release().await.unwrap();
    let second = other
        .try_lock("t", &opts)
        .await
        .unwrap()
        .expect("released lock");
    assert!(second.token() > first_token);
    drop(second);
    // Drop releases too (in the background on Redis).
    let third = fx
        .coord
        .lock("t", &opts.wait(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(third.token() > first_token);
}

/// With renewal on, a lease outlives its TTL while the guard lives.
pub async fn renewal_keeps_the_lease(fx: &Fixture) {
    let ttl = Duration::from_millis(300);
    let guard = fx
        .coord
        .lock("renew", &LockOptions::default().ttl(ttl))
        .await
        .unwrap();
    // Time passing is the subject of this test, not a stand-in for a signal.
    tokio::time::sleep(ttl * 4).await;
    assert!(!guard.is_lost());
    let other = fx.client().await;
    assert!(other
        .try_lock("renew", &LockOptions::default())
        .await
        .unwrap()
        .is_none());
    guard.renew().await.unwrap();
    guard.release().await.unwrap();
    assert!(other
        .try_lock("renew", &LockOptions::default())
        .await
        .unwrap()
        .is_some());
}

/// Leases of different TTLs held at once all stay renewed: the shorter
/// one, granted last, is due before the renewer's alarm for the longer
/// one, so the renewer must wake early for it.
pub async fn renewal_keeps_many_leases(fx: &Fixture) {
    let long = LockOptions::default().ttl(Duration::from_millis(900));
    let short = LockOptions::default().ttl(Duration::from_millis(240));
    let a = fx.coord.lock("renew-long", &long).await.unwrap();
    let b = fx.coord.lock("renew-short", &short).await.unwrap();
    let c = fx
        .coord
        .acquire_permit("renew-sem", 1, &short)
        .await
        .unwrap();
    // Time passing is the subject of this test, not a stand-in for a signal.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let other = fx.client().await;
    for (guard, name) in [(&a, "renew-long"), (&b, "renew-short")] {
        assert!(!guard.is_lost(), "{name} lost: {:?}", guard.lost_reason());
        assert!(
            other.try_lock(name, &long).await.unwrap().is_none(),
            "{name}"
        );
    }
    assert!(!c.is_lost());
    assert!(other
        .try_acquire_permit("renew-sem", 1, &long)
        .await
        .unwrap()
        .is_none());
    for guard in [a, b, c] {
        guard.release().await.unwrap();
    }
    assert!(other
        .try_lock("renew-short", &long)
        .await
        .unwrap()
        .is_some());
}

/// A waiter gets the lock promptly after a release, not after a backoff.
pub async fn waiters_are_woken_promptly(fx: &Fixture) {
    let holder = fx
        .coord
        .lock("wake", &LockOptions::default())
        .await
        .unwrap();
    let other = fx.client().await;
    let waiter = tokio::spawn(async move {
        let guard = other
            .lock(
                "wake",
                &LockOptions::default().wait(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        let got = Instant::now();
        guard.release().await.unwrap();
        got
    });
    // Let the waiter's backoff grow to its ceiling before releasing.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let released = Instant::now();
    holder.release().await.unwrap();
    let got = waiter.await.unwrap();
    let handover = got.duration_since(released);
    assert!(
        handover < Duration::from_millis(100),
        "hand-over took {handover:?}"
    );
}

/// At most N permit holders at once, with increasing tokens.
pub async fn semaphore_limits_holders(fx: &Fixture) {
    let opts = LockOptions::default().wait(Duration::from_secs(20));
    let a = fx.coord.acquire_permit("sem", 3, &opts).await.unwrap();
    let b = fx.coord.acquire_permit("sem", 3, &opts).await.unwrap();
    let c = fx.coord.acquire_permit("sem", 3, &opts).await.unwrap();
    assert!(a.token() < b.token() && b.token() < c.token());
    assert!(fx
        .coord
        .try_acquire_permit("sem", 3, &opts)
        .await
        .unwrap()
        .is_none());
    b.release().await.unwrap();
    let d = fx
        .coord
        .try_acquire_permit("sem", 3, &opts)
        .await
        .unwrap()
        .expect("a permit was freed");
    drop((a, c, d));

    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let coord = fx.client().await;
        let (inside, peak) = (Arc::clone(&inside), Arc::clone(&peak));
        tasks.push(tokio::spawn(async move {
            for _ in 0..15 {
                let permit = coord.acquire_permit("sem2", 3, &opts).await.unwrap();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
                permit.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "peak {peak}");
}

/// Readers share; a writer excludes readers and writers.
pub async fn rwlock_excludes_writers(fx: &Fixture) {
    let opts = LockOptions::default();
    let r1 = fx.coord.read_lock("rw", &opts).await.unwrap();
    let r2 = fx.client().await.read_lock("rw", &opts).await.unwrap();
    assert!(fx
        .coord
        .try_write_lock("rw", &opts)
        .await
        .unwrap()
        .is_none());
    r1.release().await.unwrap();
    assert!(fx
        .coord
        .try_write_lock("rw", &opts)
        .await
        .unwrap()
        .is_none());
    let r2_token = r2.token();
    r2.release().await.unwrap();
    let w = fx
        .coord
        .try_write_lock("rw", &opts)
        .await
        .unwrap()
        .expect("no readers left");
    assert!(w.token() > r2_token);
    assert!(fx.coord.try_read_lock("rw", &opts).await.unwrap().is_none());
    assert!(fx
        .coord
        .try_write_lock("rw", &opts)
        .await
        .unwrap()
        .is_none());
    w.release().await.unwrap();
    assert!(fx.coord.try_read_lock("rw", &opts).await.unwrap().is_some());
}

/// Empty or oversized names, zero TTLs and zero permits are refused with
/// errors naming the bad value.
pub async fn bad_input_is_refused(fx: &Fixture) {
    let opts = LockOptions::default();
    let err = fx.coord.lock("", &opts).await.unwrap_err().to_string();
    assert_eq!(err, "invalid lock name \"\": must not be empty");
    let long = "n".repeat(600);
    let err = fx
        .coord
        .try_lock(&long, &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("longer than 512 bytes") && err.contains("600 bytes"),
        "{err}"
    );
    let err = fx
        .coord
        .lock("x", &opts.ttl(Duration::ZERO))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lease TTL") && err.contains("greater than zero"),
        "{err}"
    );
    let err = fx
        .coord
        .acquire_permit("s", 0, &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("semaphore permits 0"), "{err}");
    let err = fx.coord.put("", "v").await.unwrap_err().to_string();
    assert!(err.contains("invalid key"), "{err}");
    let err = fx
        .coord
        .put_with_ttl("k", "v", Duration::ZERO)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("key TTL"), "{err}");
    let err = fx.coord.counter_add(&"c".repeat(513), 1).await.unwrap_err();
    assert!(!err.is_retryable());
    let err = shoal_coord::Coordinator::open("redis://user:pw@:6379")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid coordination URL") && !text.contains("pw@"),
        "{text}"
    );
}
