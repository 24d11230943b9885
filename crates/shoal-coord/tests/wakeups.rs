//! Who a Redis release wakes, and when. A stand-in waiter is queued with
//! raw commands and listens on its wake channel, so every message a
//! release sends is observed — no backoff retry can hide a missing one.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, PushInfo, PushKind, Value};
use shoal_coord::test_support::RedisServer;
use shoal_coord::{Coordinator, LockOptions};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// A fake waiter on lease `base` (`shoal:{lock:NAME}`...): queued as
/// `fake|1`, listening on `shoal:wake:fake`.
struct FakeWaiter {
    messages: UnboundedReceiver<PushInfo>,
    // Keeps the subscription open.
    _conn: MultiplexedConnection,
}

impl FakeWaiter {
    /// Queues the waiter; it has waited `waited_ms` (negative: it will
    /// not count as waiting long for a minute).
    async fn queue(server: &RedisServer, base: &str, waited_ms: i64) -> Self {
        let client = redis::Client::open(format!("{}?protocol=resp3", server.url())).unwrap();
        let (sender, messages) = unbounded_channel();
        let config = AsyncConnectionConfig::new().set_push_sender(sender);
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        conn.subscribe("shoal:wake:fake").await.unwrap();
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
        let now_ms = secs * 1000 + micros / 1000;
        let member = "fake|1";
        let _: () = conn
            .zadd(format!("{base}:q"), member, now_ms + 60_000)
            .await
            .unwrap();
        let _: () = conn
            .zadd(format!("{base}:s"), member, now_ms - waited_ms)
            .await
            .unwrap();
        FakeWaiter {
            messages,
            _conn: conn,
        }
    }

    /// The payload of the next wake-up within `limit`, if one comes.
    async fn next_wake(&mut self, limit: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let push = tokio::time::timeout_at(deadline, self.messages.recv())
                .await
                .ok()??;
            if push.kind != PushKind::Message {
                continue;
            }
            if let Some(Value::BulkString(payload)) = push.data.get(1) {
                return Some(String::from_utf8_lossy(payload).into_owned());
            }
        }
    }
}

/// A waiter that queued moments ago is not woken by a release the holder
/// follows with an immediate relock (it would only lose the race); the
/// holder's last release, not followed by a relock, wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relocking_holder_wakes_a_fresh_waiter_only_at_its_last_release() {
    let server = RedisServer::start();
    let coord = Coordinator::open(&server.url()).await.unwrap();
    let mut waiter = FakeWaiter::queue(&server, "shoal:{lock:hot}", -60_000).await;
    let opts = LockOptions::default();
    for _ in 0..20 {
        let guard = coord.lock("hot", &opts).await.unwrap();
        guard.release().await.unwrap();
    }
    let held = coord.lock("hot", &opts).await.unwrap();
    // The 20 releases above were each followed by a relock: none may have
    // woken the waiter. Waiting a while is the point of this check.
    let early = waiter.next_wake(Duration::from_millis(300)).await;
    assert_eq!(early, None, "woken while the holder kept relocking");
    held.release().await.unwrap();
    let woken = waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("lock:hot"));
}

/// A waiter that has waited past the bypass bound is woken by the very
/// release, even when the holder relocks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_waiter_is_woken_by_the_release_itself() {
    let server = RedisServer::start();
    let coord = Coordinator::open(&server.url()).await.unwrap();
    let mut waiter = FakeWaiter::queue(&server, "shoal:{lock:old}", 60_000).await;
    let opts = LockOptions::default();
    let guard = coord.lock("old", &opts).await.unwrap();
    guard.release().await.unwrap();
    let held = coord.lock("old", &opts).await.unwrap();
    let woken = waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("lock:old"));
    held.release().await.unwrap();
}

/// A semaphore permit freed with a fresh waiter queued is handed on too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_permit_wakes_a_fresh_waiter() {
    let server = RedisServer::start();
    let coord = Coordinator::open(&server.url()).await.unwrap();
    let mut waiter = FakeWaiter::queue(&server, "shoal:{sem:pool}", -60_000).await;
    let permit = coord
        .acquire_permit("pool", 2, &LockOptions::default())
        .await
        .unwrap();
    permit.release().await.unwrap();
    let woken = waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("sem:pool"));
}
