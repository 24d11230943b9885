//! Who a Redis release wakes, and when. A stand-in waiter is queued with
//! raw commands and listens on its wake channel, so every message a
//! release sends is observed — no backoff retry can hide a missing one.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, PushInfo, PushKind, Value};
use shoal_coord::{Coordinator, LockOptions};
use shoal_testkit::{eventually_async, RedisServer};
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
        let now_ms = server_ms(&mut conn).await;
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

/// The server's clock in ms.
async fn server_ms(conn: &mut MultiplexedConnection) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    secs * 1000 + micros / 1000
}

/// A plain connection to `server`, to look at and set its keys.
async fn raw_connection(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// What the hand-off tests start from: a Redis server, a coordinator on
/// it, a [`FakeWaiter`] queued on one lease and a raw connection.
struct WithWaiter {
    coord: Coordinator,
    waiter: FakeWaiter,
    raw: MultiplexedConnection,
    // Last, so it is dropped last.
    _server: RedisServer,
}

impl WithWaiter {
    /// Starts the server and queues the waiter on lease `base`; it has
    /// waited `waited_ms` (see [`FakeWaiter::queue`]).
    async fn start(base: &str, waited_ms: i64) -> Self {
        let server = RedisServer::start();
        let coord = Coordinator::open(&server.url()).await.unwrap();
        let waiter = FakeWaiter::queue(&server, base, waited_ms).await;
        let raw = raw_connection(&server).await;
        WithWaiter {
            coord,
            waiter,
            raw,
            _server: server,
        }
    }

    /// Takes lock `name` and releases it at once.
    async fn lock_and_release(&self, name: &str, opts: &LockOptions) {
        let guard = self.coord.lock(name, opts).await.unwrap();
        guard.release().await.unwrap();
    }
}

/// A waiter that queued moments ago is not woken by a release the holder
/// follows with an immediate relock (it would only lose the race); the
/// holder's last release, not followed by a relock, wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relocking_holder_wakes_a_fresh_waiter_only_at_its_last_release() {
    let mut setup = WithWaiter::start("shoal:{lock:hot}", -60_000).await;
    let opts = LockOptions::default();
    for _ in 0..20 {
        setup.lock_and_release("hot", &opts).await;
    }
    let held = setup.coord.lock("hot", &opts).await.unwrap();
    // The 20 releases above were each followed by a relock: none may have
    // woken the waiter. Waiting a while is the point of this check.
    let early = setup.waiter.next_wake(Duration::from_millis(300)).await;
    assert_eq!(early, None, "woken while the holder kept relocking");
    held.release().await.unwrap();
    let woken = setup.waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("lock:hot"));
}

/// A waiter that has waited past the bypass bound is handed the lock by
/// the very release: the lock stays reserved for it (nobody else gets it)
/// and it is woken. Left unclaimed, the reservation runs out; the waiter is
/// then presumed gone and the next release frees the lock for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_waiter_is_handed_the_lock() {
    let mut setup = WithWaiter::start("shoal:{lock:old}", 60_000).await;
    let opts = LockOptions::default();
    setup.lock_and_release("old", &opts).await;
    let holder: Option<String> = setup.raw.get("shoal:{lock:old}").await.unwrap();
    assert_eq!(holder.as_deref(), Some("~fake|1"));
    assert!(setup.coord.try_lock("old", &opts).await.unwrap().is_none());
    let woken = setup.waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("lock:old"));

    // The fake never claims: once the reservation runs out the lock is
    // free again, and the release after that drops the fake instead of
    // reserving the lock for it again.
    let patient = opts.wait(Duration::from_secs(5));
    setup.lock_and_release("old", &patient).await;
    let holder: Option<String> = setup.raw.get("shoal:{lock:old}").await.unwrap();
    assert_eq!(holder, None);
    let queued: Vec<String> = setup.raw.zrange("shoal:{lock:old}:s", 0, -1).await.unwrap();
    assert!(queued.is_empty(), "{queued:?}");
}

/// A semaphore permit freed with a fresh waiter queued is handed on too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_permit_wakes_a_fresh_waiter() {
    let mut setup = WithWaiter::start("shoal:{sem:pool}", -60_000).await;
    let permit = setup
        .coord
        .acquire_permit("pool", 2, &LockOptions::default())
        .await
        .unwrap();
    permit.release().await.unwrap();
    let woken = setup.waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("sem:pool"));
}

/// The members of lock `name`'s waiter order (`...:s`).
async fn queued(conn: &mut MultiplexedConnection, name: &str) -> Vec<String> {
    conn.zrange(format!("shoal:{{lock:{name}}}:s"), 0, -1)
        .await
        .unwrap()
}

/// A waiter that times out, or whose wait is dropped, leaves the queue at
/// once, so later releases wake live waiters instead of it. (Left alone, its
/// entry would stay up to 2 s: the checks allow well under that.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_that_gives_up_leaves_the_queue() {
    let server = RedisServer::start();
    let holder = Coordinator::open(&server.url()).await.unwrap();
    let guard = holder.lock("busy", &LockOptions::default()).await.unwrap();
    let raw = raw_connection(&server).await;

    let waiter = Coordinator::open(&server.url()).await.unwrap();
    let short = LockOptions::default().wait(Duration::from_millis(100));
    let err = waiter.lock("busy", &short).await.unwrap_err();
    assert!(
        matches!(err, shoal_coord::CoordError::WaitTimeout { .. }),
        "{err}"
    );
    eventually_async(
        Duration::from_millis(800),
        "the timed-out waiter to leave the queue",
        || {
            let mut raw = raw.clone();
            async move { queued(&mut raw, "busy").await.is_empty() }
        },
    )
    .await;

    let patient = LockOptions::default().wait(Duration::from_secs(60));
    let waiting = tokio::spawn(async move { waiter.lock("busy", &patient).await.map(drop) });
    eventually_async(Duration::from_secs(2), "the waiter to queue", || {
        let mut raw = raw.clone();
        async move { queued(&mut raw, "busy").await.len() == 1 }
    })
    .await;
    waiting.abort();
    eventually_async(
        Duration::from_millis(800),
        "the cancelled waiter to leave the queue",
        || {
            let mut raw = raw.clone();
            async move { queued(&mut raw, "busy").await.is_empty() }
        },
    )
    .await;
    guard.release().await.unwrap();
}

/// A freed permit is handed to a semaphore waiter past the bypass bound:
/// it stays taken, reserved for that waiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_waiter_is_handed_a_permit() {
    let mut setup = WithWaiter::start("shoal:{sem:one}", 60_000).await;
    let opts = LockOptions::default();
    let permit = setup.coord.acquire_permit("one", 1, &opts).await.unwrap();
    permit.release().await.unwrap();
    let holders: Vec<String> = setup.raw.zrange("shoal:{sem:one}", 0, -1).await.unwrap();
    assert_eq!(holders, ["~fake|1"]);
    assert!(setup
        .coord
        .try_acquire_permit("one", 1, &opts)
        .await
        .unwrap()
        .is_none());
    let woken = setup.waiter.next_wake(Duration::from_secs(5)).await;
    assert_eq!(woken.as_deref(), Some("sem:one"));
}

/// Hand-offs come at most one per bypass bound: right after one, the new
/// holder keeps its slice and a release frees the lock even though a long
/// waiter is queued; once the bound has passed, the next release hands off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_leave_each_holder_a_slice() {
    let mut setup = WithWaiter::start("shoal:{lock:slice}", 60_000).await;
    let now_ms = server_ms(&mut setup.raw).await;
    let record = "shoal:{lock:slice}:h";
    // A hand-off (claimed since) that counts as just now for the whole
    // test: its time is a minute ahead.
    let _: () = setup.raw.hset(record, "t", now_ms + 60_000).await.unwrap();
    let opts = LockOptions::default();
    setup.lock_and_release("slice", &opts).await;
    let holder: Option<String> = setup.raw.get("shoal:{lock:slice}").await.unwrap();
    assert_eq!(holder, None, "handed off within the last holder's slice");
    // The same hand-off, long ago.
    let _: () = setup.raw.hset(record, "t", now_ms - 60_000).await.unwrap();
    setup.lock_and_release("slice", &opts).await;
    let holder: Option<String> = setup.raw.get("shoal:{lock:slice}").await.unwrap();
    assert_eq!(holder.as_deref(), Some("~fake|1"));
}

/// A waiter that takes over a hand-off records what it cost — the time
/// the lock sat reserved for it — which sets the next slices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_hand_off_records_its_cost() {
    let server = RedisServer::start();
    let holder = Coordinator::open(&server.url()).await.unwrap();
    let guard = holder.lock("claim", &LockOptions::default()).await.unwrap();
    let raw = raw_connection(&server).await;
    let waiter = Coordinator::open(&server.url()).await.unwrap();
    let patient = LockOptions::default().wait(Duration::from_secs(30));
    let waiting = tokio::spawn(async move { waiter.lock("claim", &patient).await });
    // Queued and waiting longer than the first slice (10 ms): the release
    // hands the lock off to it.
    eventually_async(Duration::from_secs(5), "the waiter to wait 10 ms", || {
        let mut raw = raw.clone();
        async move {
            let since: Vec<(String, f64)> = raw
                .zrange_withscores("shoal:{lock:claim}:s", 0, 0)
                .await
                .unwrap();
            let now = server_ms(&mut raw).await;
            since.first().is_some_and(|(_, at)| now as f64 - at >= 10.0)
        }
    })
    .await;
    guard.release().await.unwrap();
    let taken = waiting.await.unwrap().unwrap();
    let mut raw = raw.clone();
    let record: std::collections::HashMap<String, String> =
        raw.hgetall("shoal:{lock:claim}:h").await.unwrap();
    assert!(
        !record.contains_key("m"),
        "claimed, still named: {record:?}"
    );
    let cost: u64 = record.get("c").expect("a claim cost").parse().unwrap();
    assert!(cost < 30_000_000, "{cost} µs");
    taken.release().await.unwrap();
}

/// Cheap hand-offs make short slices: with claims measured at 100 µs, a
/// release 5 ms after the last hand-off hands off again (a 2 ms slice,
/// not the 10 ms of a lock whose hand-offs were never measured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheap_hand_offs_make_short_slices() {
    let mut setup = WithWaiter::start("shoal:{lock:quick}", 60_000).await;
    let now_ms = server_ms(&mut setup.raw).await;
    let _: () = setup
        .raw
        .hset_multiple("shoal:{lock:quick}:h", &[("t", now_ms - 5), ("c", 100)])
        .await
        .unwrap();
    let opts = LockOptions::default();
    setup.lock_and_release("quick", &opts).await;
    let holder: Option<String> = setup.raw.get("shoal:{lock:quick}").await.unwrap();
    assert_eq!(holder.as_deref(), Some("~fake|1"));
}
