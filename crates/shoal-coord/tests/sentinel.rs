//! Coordination through Sentinels: a `redis+sentinel://` URL reaches the
//! primary the Sentinels name (a real primary, replica and three
//! Sentinels on loopback), a wrong primary name fails clearly, and a
//! long-lived coordinator follows a failover to the promoted replica.

use std::time::Duration;

use shoal_coord::{CoordConfig, CoordError, CoordUrl, Coordinator, LockOptions};
use shoal_testkit::{eventually_async, RedisServer, SentinelGroup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_url_reaches_the_primary() {
    let primary = RedisServer::start();
    let _replica = RedisServer::start_replica_of(&primary);
    let sentinels = SentinelGroup::start(&primary, "coordpool", 3, 1);
    let through_sentinels = Coordinator::open(&sentinels.url()).await.unwrap();
    assert_eq!(through_sentinels.counter_add("hits", 5).await.unwrap(), 5);
    // The write landed on the primary itself.
    let direct = Coordinator::open(&primary.url()).await.unwrap();
    assert_eq!(direct.counter_get("hits").await.unwrap(), 5);

    let wrong = sentinels.url().replace("/coordpool", "/nosuchpool");
    match Coordinator::open(&wrong).await {
        Err(err @ CoordError::UnknownPrimary { .. }) => {
            assert!(err.to_string().contains("nosuchpool"), "{err}")
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("opened a primary nobody monitors"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_follows_a_failover() {
    let mut primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let sentinels = SentinelGroup::start(&primary, "followpool", 3, 1);
    let config = CoordConfig {
        op_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..CoordConfig::default()
    };
    let url = CoordUrl::parse(&sentinels.url()).unwrap();
    let coord = Coordinator::open_with(&url, config).await.unwrap();
    let before = coord.lock("fenced", &LockOptions::default()).await.unwrap();
    let first_token = before.token();
    before.release().await.unwrap();
    assert_eq!(coord.counter_add("hits", 1).await.unwrap(), 1);
    // Replication is asynchronous and in order: once the replica has the
    // last write, it has the lock's token too.
    let on_replica = Coordinator::open(&replica.url()).await.unwrap();
    eventually_async(
        Duration::from_secs(10),
        "the replica to catch up",
        || async { on_replica.counter_get("hits").await.unwrap() == 1 },
    )
    .await;

    primary.kill();
    // Requests fail while the Sentinels vote; then the same coordinator
    // reaches the promoted replica.
    let what = "the coordinator to follow the failover";
    let hits = eventually_async(Duration::from_secs(30), what, || async {
        match coord.counter_add("hits", 1).await {
            Err(err) if !err.is_retryable() => {
                panic!("not a transient error during a failover: {err}")
            }
            outcome => outcome,
        }
    })
    .await;
    assert_eq!(hits, 2);
    assert_eq!(sentinels.primary_port(), replica.port());
    let after = coord.lock("fenced", &LockOptions::default()).await.unwrap();
    assert!(after.token() > first_token, "fencing tokens went backwards");
    after.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_no_replica_acknowledges_is_given_back() {
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let sentinels = SentinelGroup::start(&primary, "waitpool", 3, 1);
    let config = CoordConfig {
        op_timeout: Duration::from_secs(1),
        ..CoordConfig::default()
    };
    let url = CoordUrl::parse(&sentinels.url()).unwrap();
    let coord = Coordinator::open_with(&url, config).await.unwrap();
    let options = LockOptions::default();
    // With the replica answering, grants are acknowledged and handed out.
    coord
        .lock("job", &options)
        .await
        .unwrap()
        .release()
        .await
        .unwrap();

    let signal = |sig: &str| {
        let pid = replica.pid().to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    let refused = coord.try_lock("job", &options).await;
    signal("-CONT");
    match refused {
        Err(err @ CoordError::NotReplicated { .. }) => {
            assert!(err.is_retryable(), "{err}");
            assert!(err.to_string().contains("0 of 1 replica"), "{err}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("handed out a grant no replica holds"),
    }
    // It was given back: a plain client (no replica requirement) gets it.
    let direct = Coordinator::open(&primary.url()).await.unwrap();
    let taken = direct.try_lock("job", &options).await.unwrap();
    assert!(taken.is_some(), "the refused grant was kept");
    taken.unwrap().release().await.unwrap();
    // Once the replica is back, grants through the Sentinels work again.
    let what = "grants through the Sentinels to work again";
    let guard = eventually_async(Duration::from_secs(10), what, || async {
        match coord.try_lock("job", &options).await {
            Ok(Some(guard)) => Ok(guard),
            Err(err @ CoordError::NotReplicated { .. }) => Err(err),
            Ok(None) => panic!("the lock did not come back: held by someone"),
            Err(other) => panic!("the lock did not come back: {other}"),
        }
    })
    .await;
    guard.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_without_admin_commands_still_gets_replicated_grants() {
    let primary = RedisServer::start();
    let _replica = RedisServer::start_replica_of(&primary);
    let sentinels = SentinelGroup::start(&primary, "aclpool", 3, 1);
    // Everything but the admin commands (ROLE among them).
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &primary.port().to_string(), "ACL", "SETUSER", "app"])
        .args(["on", ">app-pw", "~*", "&*", "+@all", "-@admin"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let url = sentinels
        .url()
        .replace("redis+sentinel://", "redis+sentinel://app:app-pw@");
    let coord = Coordinator::open(&url).await.unwrap();
    let guard = coord.lock("acl", &LockOptions::default()).await.unwrap();
    assert!(guard.token() > 0);
    guard.release().await.unwrap();
    // ROLE really is refused to this user.
    let direct = format!("redis://app:app-pw@127.0.0.1:{}", primary.port());
    let mut conn = redis::Client::open(direct.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let role: redis::RedisResult<redis::Value> = redis::cmd("ROLE").query(&mut conn);
    assert!(role.is_err(), "ROLE allowed: {role:?}");
}
