//! The bank workload: accounts moved between by transactions, each
//! transfer idempotent through a marker key written in the same commit, so
//! a retry after an ambiguous failure cannot apply it twice.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoal_coord::{CoordError, Coordinator};

pub const ACCOUNTS: usize = 10;
pub const INITIAL: i64 = 1_000;

/// One planned transfer.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    pub id: u64,
    pub from: usize,
    pub to: usize,
    pub amount: i64,
}

/// All keys share the `{bank}` hash tag, as Redis Cluster would require.
pub fn account(i: usize) -> String {
    format!("{{bank}}:acct:{i}")
}

fn marker(id: u64) -> String {
    format!("{{bank}}:xfer:{id}")
}

/// `clients` lists of `per_client` random transfers (deterministic).
pub fn plan(clients: usize, per_client: usize, seed: u64) -> Vec<Vec<Transfer>> {
    let mut state = seed | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|i| {
                    let from = next(ACCOUNTS as u64) as usize;
                    let to = (from + 1 + next(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                    Transfer {
                        id: (c * per_client + i) as u64,
                        from,
                        to,
                        amount: 1 + next(400) as i64,
                    }
                })
                .collect()
        })
        .collect()
}

pub async fn open_accounts(coord: &Coordinator) {
    for i in 0..ACCOUNTS {
        coord.put(&account(i), INITIAL.to_string()).await.unwrap();
    }
}

fn parse(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes).unwrap().parse().unwrap()
}

/// Runs one transfer in a transaction; a repeat of an already committed
/// transfer changes nothing.
pub async fn transfer(coord: &Coordinator, t: Transfer) -> Result<(), CoordError> {
    coord
        .transact(|tx| async move {
            if tx.get(&marker(t.id)).await?.is_some() {
                return Ok(());
            }
            let from = parse(&tx.get(&account(t.from)).await?.expect("account"));
            let to = parse(&tx.get(&account(t.to)).await?.expect("account"));
            if from < t.amount {
                tx.put(&marker(t.id), "rejected")?;
                return Ok(());
            }
            tx.put(&account(t.from), (from - t.amount).to_string())?;
            tx.put(&account(t.to), (to + t.amount).to_string())?;
            tx.put(&marker(t.id), "applied")?;
            Ok(())
        })
        .await
}

/// Runs every client's transfers, retrying retryable failures (with the
/// same transfer id) until `limit`; counts completed transfers in `done`.
/// Returns how many attempts failed with a retryable error.
pub async fn run(
    clients: Vec<Coordinator>,
    plan: Vec<Vec<Transfer>>,
    done: Arc<AtomicUsize>,
    limit: Duration,
) -> usize {
    let retries = Arc::new(AtomicUsize::new(0));
    let deadline = tokio::time::Instant::now() + limit;
    let mut tasks = Vec::new();
    for (coord, transfers) in clients.into_iter().zip(plan) {
        let (done, retries) = (Arc::clone(&done), Arc::clone(&retries));
        tasks.push(tokio::spawn(async move {
            for t in transfers {
                loop {
                    match transfer(&coord, t).await {
                        Ok(()) => break,
                        Err(e) if e.is_retryable() && tokio::time::Instant::now() < deadline => {
                            retries.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => panic!("transfer {} failed: {e}", t.id),
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    retries.load(Ordering::SeqCst)
}

/// Reads all balances in one read-only transaction (a consistent
/// snapshot: the commit validates every version read).
pub async fn snapshot(coord: &Coordinator) -> Result<Vec<i64>, CoordError> {
    coord
        .transact(|tx| async move {
            let mut balances = Vec::with_capacity(ACCOUNTS);
            for i in 0..ACCOUNTS {
                balances.push(parse(&tx.get(&account(i)).await?.expect("account")));
            }
            Ok(balances)
        })
        .await
}

/// Every transfer is recorded exactly once and the balances are exactly
/// what the recorded transfers imply: money preserved, none negative.
pub async fn verify(coord: &Coordinator, plan: &[Vec<Transfer>]) {
    let balances = snapshot(coord).await.unwrap();
    assert_eq!(
        balances.iter().sum::<i64>(),
        INITIAL * ACCOUNTS as i64,
        "{balances:?}"
    );
    assert!(balances.iter().all(|b| *b >= 0), "{balances:?}");
    let mut expected = vec![INITIAL; ACCOUNTS];
    let mut applied = 0;
    for t in plan.iter().flatten() {
        let mark = coord.get(&marker(t.id)).await.unwrap();
        match mark.as_ref().map(|m| &m.value[..]) {
            Some(b"applied") => {
                expected[t.from] -= t.amount;
                expected[t.to] += t.amount;
                applied += 1;
            }
            Some(b"rejected") => {}
            other => panic!("transfer {} has no outcome recorded: {other:?}", t.id),
        }
    }
    assert_eq!(
        balances, expected,
        "balances disagree with the recorded transfers"
    );
    assert!(
        applied > plan.iter().flatten().count() / 2,
        "too few transfers applied: {applied}"
    );
}

/// 10 accounts, 8 clients, 2,000 transfers; an auditor checks snapshots
/// meanwhile.
pub async fn bank_transfers_preserve_money(fx: &crate::common::Fixture) {
    open_accounts(&fx.coord).await;
    let plan = plan(8, 250, 0x5eed);
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(fx.client().await);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let auditor_coord = fx.client().await;
    let auditor_done = Arc::clone(&done);
    let auditor = tokio::spawn(async move {
        let mut audits = 0;
        while auditor_done.load(Ordering::SeqCst) < 2_000 {
            let balances = snapshot(&auditor_coord).await.unwrap();
            assert_eq!(balances.iter().sum::<i64>(), INITIAL * ACCOUNTS as i64);
            assert!(balances.iter().all(|b| *b >= 0), "{balances:?}");
            audits += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        audits
    });
    run(
        clients,
        plan.clone(),
        Arc::clone(&done),
        Duration::from_secs(60),
    )
    .await;
    assert!(auditor.await.unwrap() > 0);
    verify(&fx.coord, &plan).await;
}
