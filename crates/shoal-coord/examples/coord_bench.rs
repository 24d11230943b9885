//! Throughput probe used by `bench/coord.sh` (run it in release mode):
//!
//! - `lock URL CLIENTS SECONDS [START_UNIX_MS]`: each client loops lock +
//!   get + put of a plain key + unlock (four round trips, as redis-py's
//!   `Lock` does it); prints cycles/s and checks the final value — unless
//!   a start time is given, which means several processes run at once (the
//!   script starts them in sync, and each prints `CYCLES/S CYCLES` so the
//!   script can check the final value against the sum of the cycles);
//! - `two-trips URL CLIENTS SECONDS [START_UNIX_MS]`: the same
//!   read-modify-write with `lock_and_get` + `set_and_unlock` (two round
//!   trips);
//! - `bank URL CLIENTS SECONDS`: transfers between 10 accounts in
//!   transactions (both balances read in one step, then the commit: two
//!   round trips); prints transfers/s and transfers (and checks money is
//!   preserved);
//! - `embedded CYCLES`: uncontended embedded lock/unlock; prints cycles/s;
//! - `ping URL SECONDS`: sequential PINGs on a connection opened as
//!   coordination opens its own (`shoal_coord::redis::conn::connect`, same
//!   runtime as a one-client run); prints PINGs/s — the round-trip floor of
//!   this client, to set beside `redis-benchmark -c 1`'s.
//!
//! With `SHOAL_BENCH_LATENCIES=FILE` in the environment, `lock`,
//! `two-trips` and `ping` also write each cycle's (or PING's) latency in µs
//! to FILE, one a line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_coord::{CoordError, Coordinator, LockOptions, Versioned};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: coord_bench lock|two-trips|bank URL CLIENTS SECONDS [START_UNIX_MS] | embedded CYCLES | ping URL SECONDS";

/// The key every locked read-modify-write increments.
const VALUE_KEY: &str = "bench/value";

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Result<&str, BoxError> {
        args.get(i).map(String::as_str).ok_or_else(|| USAGE.into())
    };
    // One client per process (how bench/coord.sh runs contention) needs no
    // worker pool; several clients in one process do.
    let single = args.get(2).is_some_and(|c| c == "1")
        || args.first().is_some_and(|m| m == "embedded" || m == "ping");
    let runtime = if single {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    let report = match arg(0)? {
        mode @ ("lock" | "two-trips") => {
            let cycle = if mode == "lock" {
                Cycle::FourTrips
            } else {
                Cycle::TwoTrips
            };
            let run = Run {
                url: arg(1)?.to_owned(),
                clients: arg(2)?.parse()?,
                seconds: arg(3)?.parse()?,
                start_at: args.get(4).map(|s| s.parse::<u64>()).transpose()?,
            };
            runtime.block_on(locked_cycles(run, cycle))?
        }
        "bank" => runtime.block_on(bank(arg(1)?, arg(2)?.parse()?, arg(3)?.parse()?))?,
        "embedded" => rate(runtime.block_on(embedded(arg(1)?.parse()?))?),
        "ping" => rate(runtime.block_on(ping(arg(1)?, arg(2)?.parse()?))?),
        other => return Err(format!("unknown mode {other:?}; {USAGE}").into()),
    };
    println!("{report}");
    Ok(())
}

fn rate(per_second: f64) -> String {
    format!("{per_second:.0}")
}

async fn clients(url: &str, n: usize) -> Result<Vec<Coordinator>, CoordError> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(Coordinator::open(url).await?);
    }
    Ok(all)
}

/// How a locked read-modify-write is done.
#[derive(Clone, Copy)]
enum Cycle {
    /// lock, get, put, unlock: four round trips, like redis-py's `Lock`.
    FourTrips,
    /// `lock_and_get`, `set_and_unlock`: two round trips.
    TwoTrips,
}

/// One timed run of locked read-modify-writes.
struct Run {
    url: String,
    clients: usize,
    seconds: f64,
    /// Several processes run at once: start at this Unix time (ms) and
    /// leave checking the total to the caller.
    start_at: Option<u64>,
}

async fn locked_cycles(run: Run, cycle: Cycle) -> Result<String, BoxError> {
    let all = clients(&run.url, run.clients).await?;
    all[0]
        .compare_and_set(VALUE_KEY, None, Some("0".into()))
        .await?;
    if let Some(at) = run.start_at {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        tokio::time::sleep(Duration::from_millis(at).saturating_sub(now)).await;
    }
    let cycles = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(run.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for coord in all.clone() {
        let cycles = Arc::clone(&cycles);
        tasks.push(tokio::spawn(async move {
            let opts = LockOptions::default().wait(Duration::from_secs(60));
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let began = Instant::now();
                match cycle {
                    Cycle::FourTrips => four_trips(&coord, &opts).await?,
                    Cycle::TwoTrips => two_trips(&coord, &opts).await?,
                }
                latencies.push(began.elapsed().as_micros() as u32);
                cycles.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, CoordError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = cycles.load(Ordering::Relaxed);
    let last = all[0].get(VALUE_KEY).await?.map(|v| v.value);
    if run.start_at.is_none() && last.as_deref() != Some(total.to_string().as_bytes()) {
        return Err(format!("mutual exclusion broken: {total} cycles, value {last:?}").into());
    }
    write_latencies(&latencies)?;
    let per_second = rate(total as f64 / elapsed);
    Ok(match run.start_at {
        Some(_) => format!("{per_second} {total}"),
        None => per_second,
    })
}

/// Writes `latencies` (µs), one a line, to `$SHOAL_BENCH_LATENCIES` if set.
fn write_latencies(latencies: &[u32]) -> Result<(), BoxError> {
    if let Ok(path) = std::env::var("SHOAL_BENCH_LATENCIES") {
        let lines: String = latencies.iter().map(|us| format!("{us}\n")).collect();
        std::fs::write(&path, lines).map_err(|e| format!("writing {path}: {e}"))?;
    }
    Ok(())
}

fn number(read: Option<&Versioned>) -> u64 {
    read.and_then(|v| std::str::from_utf8(&v.value).ok()?.parse().ok())
        .unwrap_or(0)
}

async fn four_trips(coord: &Coordinator, opts: &LockOptions) -> Result<(), CoordError> {
    let guard = coord.lock("bench", opts).await?;
    let value = number(coord.get(VALUE_KEY).await?.as_ref());
    coord.put(VALUE_KEY, (value + 1).to_string()).await?;
    guard.release().await
}

async fn two_trips(coord: &Coordinator, opts: &LockOptions) -> Result<(), CoordError> {
    let (guard, values) = coord.lock_and_get("bench", &[VALUE_KEY], opts).await?;
    let value = number(values[0].as_ref());
    guard
        .set_and_unlock([(VALUE_KEY, (value + 1).to_string())])
        .await
}

async fn bank(url: &str, n: usize, seconds: f64) -> Result<String, BoxError> {
    const ACCOUNTS: u64 = 10;
    let all = clients(url, n).await?;
    for i in 0..ACCOUNTS {
        all[0].put(&format!("{{bench}}:acct:{i}"), "1000").await?;
    }
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, coord) in all.clone().into_iter().enumerate() {
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1);
            while Instant::now() < end {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let from = seed % ACCOUNTS;
                let to = (from + 1 + (seed >> 8) % (ACCOUNTS - 1)) % ACCOUNTS;
                let amount = 1 + (seed >> 16) % 100;
                transfer(&coord, from, to, amount).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), CoordError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut total = 0i64;
    for i in 0..ACCOUNTS {
        let v = all[0]
            .get(&format!("{{bench}}:acct:{i}"))
            .await?
            .ok_or("account vanished")?;
        total += std::str::from_utf8(&v.value)?.parse::<i64>()?;
    }
    if total != 1000 * ACCOUNTS as i64 {
        return Err(format!("money not preserved: {total}").into());
    }
    let done = done.load(Ordering::Relaxed);
    Ok(format!("{} {done}", rate(done as f64 / elapsed)))
}

async fn transfer(coord: &Coordinator, from: u64, to: u64, amount: u64) -> Result<(), CoordError> {
    let (from, to) = (
        format!("{{bench}}:acct:{from}"),
        format!("{{bench}}:acct:{to}"),
    );
    coord
        .transact(|tx| {
            let (from, to) = (from.clone(), to.clone());
            async move {
                let read = |v: Option<bytes::Bytes>| -> i64 {
                    v.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok())
                        .unwrap_or(0)
                };
                let [a, b]: [Option<bytes::Bytes>; 2] = tx
                    .get_many(&[&from, &to])
                    .await?
                    .try_into()
                    .expect("two keys, two values");
                let (a, b) = (read(a), read(b));
                if a >= amount as i64 {
                    tx.put(&from, (a - amount as i64).to_string())?;
                    tx.put(&to, (b + amount as i64).to_string())?;
                }
                Ok(())
            }
        })
        .await
}

async fn embedded(cycles: u64) -> Result<f64, BoxError> {
    let coord = Coordinator::embedded();
    let opts = LockOptions::default();
    let started = Instant::now();
    for _ in 0..cycles {
        let guard = coord.lock("hot", &opts).await?;
        drop(guard);
    }
    Ok(cycles as f64 / started.elapsed().as_secs_f64())
}

async fn ping(url: &str, seconds: f64) -> Result<f64, BoxError> {
    let shoal_coord::CoordUrl::Redis(target) = shoal_coord::CoordUrl::parse(url)? else {
        return Err(format!("ping needs a redis:// URL, not {url}").into());
    };
    let options = shoal_coord::redis::conn::ConnectOptions::default();
    let no_push: Option<fn(redis::PushInfo) -> Result<(), std::convert::Infallible>> = None;
    let mut conn = shoal_coord::redis::conn::connect(&target, &options, no_push).await?;
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut latencies = Vec::new();
    while Instant::now() < end {
        let sent = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        latencies.push(sent.elapsed().as_micros() as u32);
    }
    let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    write_latencies(&latencies)?;
    Ok(per_second)
}
