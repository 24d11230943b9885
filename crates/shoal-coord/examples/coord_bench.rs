//! Throughput probe used by `bench/coord.sh` (run it in release mode):
//!
//! - `lock URL CLIENTS SECONDS [START_UNIX_MS]`: each client loops lock +
//!   read-modify-write of a plain key + unlock; prints cycles/s and checks
//!   the final value — unless a start time is given, which means several
//!   processes run at once (the script starts them in sync and checks the
//!   total itself);
//! - `bank URL CLIENTS SECONDS`: transfers between 10 accounts in
//!   transactions; prints transfers/s (and checks money is preserved);
//! - `embedded CYCLES`: uncontended embedded lock/unlock; prints cycles/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_coord::{CoordError, Coordinator, LockOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Result<&str, BoxError> {
        args.get(i).map(String::as_str).ok_or_else(|| {
            "usage: coord_bench lock|bank URL CLIENTS SECONDS | embedded CYCLES".into()
        })
    };
    // One client per process (how bench/coord.sh runs contention) needs no
    // worker pool; several clients in one process do.
    let single =
        args.get(2).is_some_and(|c| c == "1") || args.first().is_some_and(|m| m == "embedded");
    let runtime = if single {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    let rate = match arg(0)? {
        "lock" => {
            let start_at = args.get(4).map(|s| s.parse::<u64>()).transpose()?;
            runtime.block_on(lock(arg(1)?, arg(2)?.parse()?, arg(3)?.parse()?, start_at))?
        }
        "bank" => runtime.block_on(bank(arg(1)?, arg(2)?.parse()?, arg(3)?.parse()?))?,
        "embedded" => runtime.block_on(embedded(arg(1)?.parse()?))?,
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    println!("{rate:.0}");
    Ok(())
}

async fn clients(url: &str, n: usize) -> Result<Vec<Coordinator>, CoordError> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(Coordinator::open(url).await?);
    }
    Ok(all)
}

async fn lock(url: &str, n: usize, seconds: f64, start_at: Option<u64>) -> Result<f64, BoxError> {
    let all = clients(url, n).await?;
    all[0]
        .compare_and_set("bench/value", None, Some("0".into()))
        .await?;
    if let Some(at) = start_at {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        tokio::time::sleep(Duration::from_millis(at).saturating_sub(now)).await;
    }
    let cycles = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let opts = LockOptions::default().wait(Duration::from_secs(60));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for coord in all.clone() {
        let cycles = Arc::clone(&cycles);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let guard = coord.lock("bench", &opts).await?;
                let value = coord.get("bench/value").await?.map_or(0, |v| {
                    std::str::from_utf8(&v.value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0u64)
                });
                coord.put("bench/value", (value + 1).to_string()).await?;
                guard.release().await?;
                cycles.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), CoordError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = cycles.load(Ordering::Relaxed);
    let last = all[0].get("bench/value").await?.map(|v| v.value);
    if start_at.is_none() && last.as_deref() != Some(total.to_string().as_bytes()) {
        return Err(format!("mutual exclusion broken: {total} cycles, value {last:?}").into());
    }
    Ok(total as f64 / elapsed)
}

async fn bank(url: &str, n: usize, seconds: f64) -> Result<f64, BoxError> {
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
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
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
                let a = read(tx.get(&from).await?);
                let b = read(tx.get(&to).await?);
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
