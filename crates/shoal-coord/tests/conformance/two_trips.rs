//! The two-round-trip path: `lock_and_get` reads keys in the granting
//! step, `Guard::set_and_unlock` writes them in the releasing step — only
//! while the lease is still ours, fenced with its token.

use std::time::Duration;

use shoal_coord::{CoordError, Coordinator, LockOptions, Versioned};

use crate::common::Fixture;

fn number(read: &Option<Versioned>) -> u64 {
    read.as_ref()
        .map(|v| std::str::from_utf8(&v.value).unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// Values come back in the order asked, absent keys as `None`; the writes
/// land with fresh versions, the lock is free afterwards, and the next
/// grant's token is larger.
pub async fn lock_and_get_then_set_and_unlock(fx: &Fixture) {
    let c = &fx.coord;
    let old = c.put("tt/a", "1").await.unwrap();
    let (guard, values) = c
        .lock_and_get("tt", &["tt/a", "tt/missing"], &LockOptions::default())
        .await
        .unwrap();
    assert_eq!(values.len(), 2);
    let a = values[0].as_ref().expect("tt/a was written");
    assert_eq!((&a.value[..], a.version), (&b"1"[..], old));
    assert!(values[1].is_none());
    let token = guard.token();
    guard
        .set_and_unlock([("tt/a", "2"), ("tt/b", "3")])
        .await
        .unwrap();
    let a = c.get("tt/a").await.unwrap().unwrap();
    assert_eq!(&a.value[..], b"2");
    assert!(a.version > old, "{} <= {old}", a.version);
    assert_eq!(&c.get("tt/b").await.unwrap().unwrap().value[..], b"3");
    let other = fx.client().await;
    let next = other
        .try_lock("tt", &LockOptions::default())
        .await
        .unwrap()
        .expect("set_and_unlock released the lock");
    assert!(next.token() > token);
    // Reading no keys is a plain lock.
    next.release().await.unwrap();
    let (guard, values) = c
        .lock_and_get::<&str>("tt", &[], &LockOptions::default())
        .await
        .unwrap();
    assert!(values.is_empty());
    guard.set_and_unlock::<&str, &str>([]).await.unwrap();
}

/// A holder whose lease ran out writes nothing; its successor's writes
/// stand and fence it off for `put_fenced` too.
pub async fn set_and_unlock_refuses_a_lost_lease(fx: &Fixture) {
    let ttl = Duration::from_millis(300);
    let (stale, _) = fx
        .coord
        .lock_and_get(
            "tt-lost",
            &["tt-lost/k"],
            &LockOptions::default().ttl(ttl).auto_renew(false),
        )
        .await
        .unwrap();
    let other = fx.client().await;
    let (fresh, _) = other
        .lock_and_get(
            "tt-lost",
            &["tt-lost/k"],
            &LockOptions::default().wait(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert!(fresh.token() > stale.token());
    let stale_token = stale.token();
    let err = stale
        .set_and_unlock([("tt-lost/k", "stale")])
        .await
        .unwrap_err();
    assert!(matches!(err, CoordError::LeaseLost { .. }), "{err}");
    assert!(fx.coord.get("tt-lost/k").await.unwrap().is_none());
    let fresh_token = fresh.token();
    fresh
        .set_and_unlock([("tt-lost/k", "fresh")])
        .await
        .unwrap();
    let err = fx
        .coord
        .put_fenced("tt-lost/k", "late", "tt-lost", stale_token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordError::StaleToken { newest, .. } if newest == fresh_token),
        "{err}"
    );
    assert_eq!(
        &fx.coord.get("tt-lost/k").await.unwrap().unwrap().value[..],
        b"fresh"
    );
}

/// A key that already accepted a newer token of the lock's name refuses
/// the writes (all of them); the lease is released all the same.
pub async fn set_and_unlock_respects_newer_fences(fx: &Fixture) {
    let c = &fx.coord;
    let guard = c.lock("tt-fence", &LockOptions::default()).await.unwrap();
    let newer = guard.token() + 1_000;
    c.put_fenced("tt-fence/b", "newer", "tt-fence", newer)
        .await
        .unwrap();
    let err = guard
        .set_and_unlock([("tt-fence/a", "mine"), ("tt-fence/b", "mine")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoordError::StaleToken { key, newest, .. } if key == "tt-fence/b" && *newest == newer),
        "{err}"
    );
    assert!(c.get("tt-fence/a").await.unwrap().is_none());
    assert_eq!(
        &c.get("tt-fence/b").await.unwrap().unwrap().value[..],
        b"newer"
    );
    assert!(c
        .try_lock("tt-fence", &LockOptions::default())
        .await
        .unwrap()
        .is_some());
}

/// 8 holders × 150 read-modify-writes through the two-round-trip path.
pub async fn two_trip_mutual_exclusion(fx: &Fixture) {
    const HOLDERS: u64 = 8;
    const ROUNDS: u64 = 150;
    let opts = LockOptions::default().wait(Duration::from_secs(60));
    let mut tasks = Vec::new();
    for _ in 0..HOLDERS {
        let coord: Coordinator = fx.client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let (guard, values) = coord
                    .lock_and_get("tt-mx", &["tt-mx/n"], &opts)
                    .await
                    .unwrap();
                let next = number(&values[0]) + 1;
                guard
                    .set_and_unlock([("tt-mx/n", next.to_string())])
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = fx.coord.get("tt-mx/n").await.unwrap();
    assert_eq!(number(&last), HOLDERS * ROUNDS);
}

/// Bad keys are refused before anything happens (the lock stays free);
/// a bad key in `set_and_unlock` still releases the lock.
pub async fn two_trip_bad_input(fx: &Fixture) {
    let c = &fx.coord;
    let opts = LockOptions::default();
    let err = c.lock_and_get("tt-bad", &[""], &opts).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid key \"\": must not be empty");
    let (guard, _) = c.lock_and_get("tt-bad", &["k"], &opts).await.unwrap();
    let err = guard.set_and_unlock([("", "v")]).await.unwrap_err();
    assert!(err.to_string().contains("invalid key"), "{err}");
    let other = fx.client().await;
    let freed = other
        .lock("tt-bad", &opts.wait(Duration::from_secs(5)))
        .await
        .unwrap();
    freed.release().await.unwrap();
}
