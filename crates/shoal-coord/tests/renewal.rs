//! Background renewal on Redis, where a lease can really be lost: a lease
//! taken away behind the holder's back is reported stolen, and renewal
//! keeps working when a coordinator outlives the runtime it started on.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use shoal_coord::{Coordinator, LockOptions, LostReason};
use shoal_testkit::RedisServer;

/// Deleting the lock key on the server makes the next renewal fail, and
/// the guard reports the lease stolen well within its TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_away_is_reported_stolen() {
    let server = RedisServer::start();
    let coord = Coordinator::open(&server.url()).await.unwrap();
    let ttl = Duration::from_millis(600);
    let guard = coord
        .lock("stolen", &LockOptions::default().ttl(ttl))
        .await
        .unwrap();
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let removed: i64 = redis::cmd("DEL")
        .arg("shoal:{lock:stolen}")
        .query(&mut raw)
        .unwrap();
    assert_eq!(removed, 1, "the lock key layout changed");
    // The first renewal is due at TTL/3; the report must come before the
    // lease would have expired on its own.
    let reason = tokio::time::timeout(ttl, guard.lost())
        .await
        .expect("lost() should fire at the first renewal");
    assert_eq!(reason, LostReason::Stolen);
    assert!(guard.release().await.is_err());
}

/// A coordinator opened on one runtime and used on another after the first
/// is gone still renews its leases: its connection comes back after one
/// failed request, and the renewer restarts on the live runtime.
#[test]
fn renewal_survives_the_runtime_it_started_on() {
    let server = RedisServer::start();
    let runtime = |_| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime(1);
    let coord = first.block_on(async {
        let coord = Coordinator::open(&server.url()).await.unwrap();
        let guard = coord.lock("rt", &LockOptions::default()).await.unwrap();
        guard.release().await.unwrap();
        coord
    });
    drop(first);
    let second = runtime(2);
    second.block_on(async {
        let ttl = Duration::from_millis(300);
        let opts = LockOptions::default().ttl(ttl);
        // The connection died with the first runtime: the first request
        // fails (retryably) and the connection comes back on this one.
        let mut attempts = 0;
        let guard = loop {
            match coord.lock("rt", &opts).await {
                Ok(guard) => break guard,
                Err(err) if err.is_retryable() && attempts < 50 => attempts += 1,
                Err(err) => panic!("no lock after {attempts} retries: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // Time passing is the subject of this test, not a stand-in for a signal.
        tokio::time::sleep(ttl * 4).await;
        assert!(!guard.is_lost(), "{:?}", guard.lost_reason());
        guard.release().await.unwrap();
    });
}
