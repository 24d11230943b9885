//! Coordination through Sentinels: a `redis+sentinel://` URL reaches the
//! primary the Sentinels name (a real primary, replica and three
//! Sentinels on loopback), and a wrong primary name fails clearly.

use shoal_coord::test_support::{RedisServer, SentinelGroup};
use shoal_coord::{CoordError, Coordinator};

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
