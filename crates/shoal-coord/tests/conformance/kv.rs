//! Counter, key-value, fencing and transaction conformance.

use std::time::Duration;

use bytes::Bytes;
use shoal_coord::{CasOutcome, CoordConfig, CoordError};

use crate::common::Fixture;
use shoal_testkit::eventually_async;

/// Concurrent adds are exact.
pub async fn counters_are_atomic(fx: &Fixture) {
    assert_eq!(fx.coord.counter_get("hits").await.unwrap(), 0);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let coord = fx.client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                coord.counter_add("hits", 2).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(fx.coord.counter_get("hits").await.unwrap(), 1600);
    assert_eq!(fx.coord.counter_add("hits", -600).await.unwrap(), 1000);
}

/// get/put/delete/CAS with versions that never repeat.
pub async fn versioned_kv(fx: &Fixture) {
    let c = &fx.coord;
    assert_eq!(c.get("k").await.unwrap(), None);
    let v1 = c.put("k", "one").await.unwrap();
    let got = c.get("k").await.unwrap().unwrap();
    assert_eq!((&got.value[..], got.version), (&b"one"[..], v1));
    let v2 = c
        .put("k", Bytes::from_static(b"\x00binary\xff"))
        .await
        .unwrap();
    assert!(v2 > v1);
    assert_eq!(
        &c.get("k").await.unwrap().unwrap().value[..],
        b"\x00binary\xff"
    );

    assert_eq!(
        c.compare_and_set("k", Some(v1), Some("stale".into()))
            .await
            .unwrap(),
        CasOutcome::Mismatch(Some(v2))
    );
    let CasOutcome::Applied(Some(v3)) = c
        .compare_and_set("k", Some(v2), Some("three".into()))
        .await
        .unwrap()
    else {
        panic!("CAS with the current version must apply")
    };
    assert!(v3 > v2);
    assert!(c
        .compare_and_set("new", None, Some("x".into()))
        .await
        .unwrap()
        .is_applied());
    assert_eq!(
        c.compare_and_set("new", None, Some("y".into()))
            .await
            .unwrap(),
        CasOutcome::Mismatch(c.get("new").await.unwrap().map(|v| v.version))
    );

    assert!(c.delete("k").await.unwrap());
    assert!(!c.delete("k").await.unwrap());
    assert_eq!(c.get("k").await.unwrap(), None);
    let v4 = c.put("k", "again").await.unwrap();
    assert!(
        v4 > v3,
        "a re-created key must not reuse a version ({v4} <= {v3})"
    );
    assert_eq!(
        c.compare_and_set("k", Some(v4), None).await.unwrap(),
        CasOutcome::Applied(None)
    );
    assert_eq!(c.get("k").await.unwrap(), None);
}

/// A key written with a TTL disappears after it.
pub async fn key_ttl_expires(fx: &Fixture) {
    fx.coord
        .put_with_ttl("short", "v", Duration::from_millis(150))
        .await
        .unwrap();
    fx.coord.put("long", "v").await.unwrap();
    assert!(fx.coord.get("short").await.unwrap().is_some());
    let what = "a key with a 150ms TTL to expire";
    eventually_async(Duration::from_secs(3), what, || async {
        fx.coord.get("short").await.unwrap().is_none()
    })
    .await;
    assert!(fx.coord.get("long").await.unwrap().is_some());
}

/// put_fenced accepts equal or newer tokens of a lock, refuses older ones,
/// tracks locks independently and survives a delete.
pub async fn put_fenced_refuses_stale_tokens(fx: &Fixture) {
    let c = &fx.coord;
    c.put_fenced("res", "a", "L", 5).await.unwrap();
    c.put_fenced("res", "b", "L", 5).await.unwrap();
    let err = c.put_fenced("res", "c", "L", 3).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "key \"res\" refused fencing token 3 of lock \"L\": it already accepted token 5"
    );
    c.put_fenced("res", "d", "OTHER", 1).await.unwrap();
    c.put_fenced("res", "e", "L", u64::MAX - 1).await.unwrap();
    assert!(c.put_fenced("res", "f", "L", u64::MAX - 2).await.is_err());
    assert_eq!(&c.get("res").await.unwrap().unwrap().value[..], b"e");
    c.delete("res").await.unwrap();
    assert!(
        c.put_fenced("res", "g", "L", 7).await.is_err(),
        "fence must survive delete"
    );
}

/// A transaction that keeps conflicting gives up with a typed error.
pub async fn transaction_conflicts_give_up(fx: &Fixture) {
    let coord = fx
        .with_config(CoordConfig {
            max_tx_attempts: 3,
            ..CoordConfig::default()
        })
        .await;
    coord.put("hot", "0").await.unwrap();
    let meddler = coord.clone();
    let mut runs = 0;
    let result: Result<(), CoordError> = coord
        .transact(|tx| {
            runs += 1;
            let meddler = meddler.clone();
            async move {
                tx.get("hot").await?;
                meddler
                    .put("hot", "changed behind the transaction's back")
                    .await?;
                tx.put("hot", "mine")?;
                Ok(())
            }
        })
        .await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, CoordError::Conflict { attempts: 3, key } if key == "hot"),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(runs, 3);
    assert_ne!(&coord.get("hot").await.unwrap().unwrap().value[..], b"mine");
}

/// A retry after a conflict starts from the values the failed commit
/// found — each key its own value, absent keys absent — and commits.
pub async fn transaction_retry_sees_the_new_values(fx: &Fixture) {
    let c = &fx.coord;
    c.put("rt/a", "1").await.unwrap();
    c.put("rt/b", "2").await.unwrap();
    let meddler = fx.client().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let result: Result<(), CoordError> = c
        .transact(|tx| {
            let first = seen.lock().unwrap().is_empty();
            let meddler = meddler.clone();
            let seen = std::sync::Arc::clone(&seen);
            async move {
                let a = tx.get("rt/a").await?;
                let b = tx.get("rt/b").await?;
                let gone = tx.get("rt/gone").await?;
                seen.lock()
                    .unwrap()
                    .push((a.clone(), b.clone(), gone.clone()));
                if first {
                    meddler.put("rt/a", "10").await?;
                    meddler.put("rt/b", "20").await?;
                    meddler.put("rt/gone", "30").await?;
                }
                let sum = [a, b, gone]
                    .iter()
                    .flatten()
                    .map(|v| std::str::from_utf8(v).unwrap().parse::<u64>().unwrap())
                    .sum::<u64>();
                tx.put("rt/sum", sum.to_string())?;
                Ok(())
            }
        })
        .await;
    result.unwrap();
    let bytes = |s: &'static str| Some(Bytes::from_static(s.as_bytes()));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (bytes("1"), bytes("2"), None),
            (bytes("10"), bytes("20"), bytes("30")),
        ]
    );
    assert_eq!(&c.get("rt/sum").await.unwrap().unwrap().value[..], b"60");
}

/// Several keys read at once, outside and inside a transaction: values in
/// the order asked, absent keys absent, a transaction's own writes and
/// earlier reads served as `Tx::get` would, and the versions checked at
/// commit like those of single reads.
pub async fn get_many_reads_keys_in_order(fx: &Fixture) {
    let c = &fx.coord;
    c.put("gm/a", "1").await.unwrap();
    c.put("gm/b", "2").await.unwrap();
    let read = c.get_many(&["gm/b", "gm/none", "gm/a"]).await.unwrap();
    let values: Vec<_> = read
        .iter()
        .map(|v| v.as_ref().map(|v| &v.value[..]))
        .collect();
    assert_eq!(values, [Some(&b"2"[..]), None, Some(&b"1"[..])]);
    assert!(c.get_many::<&str>(&[]).await.unwrap().is_empty());
    assert!(matches!(
        c.get_many(&["gm/a", ""]).await,
        Err(CoordError::InvalidName { .. })
    ));
    let meddler = fx.client().await;
    let mut runs = 0;
    let result: Result<(), CoordError> = c
        .transact(|tx| {
            runs += 1;
            let (meddler, first) = (meddler.clone(), runs == 1);
            async move {
                tx.put("gm/b", "mine")?;
                let first_a = tx.get("gm/a").await?;
                let all = tx.get_many(&["gm/a", "gm/b", "gm/none", "gm/a"]).await?;
                let bytes = |v: &Option<Bytes>| v.as_ref().map(|v| v.to_vec());
                assert_eq!(bytes(&all[0]), bytes(&first_a));
                assert_eq!(bytes(&all[1]), Some(b"mine".to_vec()));
                assert_eq!(bytes(&all[3]), bytes(&first_a));
                if first {
                    assert_eq!(all[2], None);
                    // Read through get_many: the commit must notice.
                    meddler.put("gm/none", "now here").await?;
                } else {
                    // The retry starts from what the failed commit found.
                    assert_eq!(bytes(&all[2]), Some(b"now here".to_vec()));
                }
                Ok(())
            }
        })
        .await;
    result.unwrap();
    assert_eq!(
        runs, 2,
        "a key read by get_many changed: the commit must conflict"
    );
}

#[derive(Debug)]
enum BankError {
    Insufficient,
    Coord(#[allow(dead_code, reason = "shown by Debug on failure")] CoordError),
}

impl From<CoordError> for BankError {
    fn from(e: CoordError) -> Self {
        BankError::Coord(e)
    }
}

/// A closure error based on consistent reads is returned as is, and its
/// buffered writes are discarded.
pub async fn transaction_aborts_on_consistent_reads(fx: &Fixture) {
    let c = &fx.coord;
    c.put("acct", "10").await.unwrap();
    let result: Result<(), BankError> = c
        .transact(|tx| async move {
            let balance: i64 = String::from_utf8(tx.get("acct").await?.unwrap().to_vec())
                .unwrap()
                .parse()
                .unwrap();
            tx.put("acct", (balance - 50).to_string())?;
            if balance < 50 {
                return Err(BankError::Insufficient);
            }
            Ok(())
        })
        .await;
    assert!(matches!(result, Err(BankError::Insufficient)), "{result:?}");
    assert_eq!(&c.get("acct").await.unwrap().unwrap().value[..], b"10");
    // And a successful one commits reads+writes together.
    let out: Result<i64, CoordError> = c
        .transact(|tx| async move {
            let v = tx.get("acct").await?.unwrap();
            tx.put("acct", "11")?;
            tx.put("acct2", v)?;
            assert_eq!(tx.get("acct").await?.unwrap(), Bytes::from_static(b"11"));
            Ok(7)
        })
        .await;
    assert_eq!(out.unwrap(), 7);
    assert_eq!(&c.get("acct2").await.unwrap().unwrap().value[..], b"10");
}
