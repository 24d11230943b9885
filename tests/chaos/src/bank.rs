//! The bank workload: clients move money between accounts in optimistic
//! transactions on a Redis of its own, while an auditor checks snapshots.
//!
//! Each transfer writes a marker key (`applied` or `rejected`) in the same
//! commit as the balances, and a retry (after an ambiguous failure) keeps
//! the transfer's id and checks the marker first — so a transfer is never
//! applied twice, and a transfer lost by a failover is lost whole (its
//! marker with it). The clients remember what was acknowledged; at the
//! end [`Bank::stop_and_verify`] reads every balance and marker and checks:
//!
//! - money is preserved and no balance is negative (also in every audit);
//! - the balances are exactly what the recorded markers imply (no
//!   transfer half-applied or applied twice);
//! - no marker contradicts its acknowledgement; acknowledged transfers
//!   whose marker is gone are *lost* — counted, and allowed only when the
//!   segment's bank could fail over (asynchronous replication), never for a
//!   plain server with `appendfsync always`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shoal_coord::{CoordConfig, CoordError, CoordUrl, Coordinator};

/// Accounts in the bank.
const ACCOUNTS: usize = 8;
/// Every account's opening balance.
const INITIAL: i64 = 1_000;
/// Concurrent clients.
const CLIENTS: usize = 3;
/// Pause between a client's transfers: the bank is a background load on a
/// shared machine, not a benchmark.
const PACE: Duration = Duration::from_millis(15);
/// How long a client keeps retrying one transfer before giving up on it
/// (its outcome is then unknown, which the checks allow).
const GIVE_UP: Duration = Duration::from_secs(45);
/// Pause between audits.
const AUDIT_EVERY: Duration = Duration::from_millis(250);

/// What a client was told about a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Committed, money moved.
    Applied,
    /// Committed as refused (not enough money).
    Rejected,
    /// Never acknowledged (retries gave up): either outcome is fine.
    Unknown,
}

/// One planned transfer.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    id: u64,
    from: usize,
    to: usize,
    amount: i64,
}

/// What the bank's checks found.
#[derive(Debug, Default)]
pub struct BankReport {
    /// Transfers acknowledged as applied.
    pub applied: u64,
    /// Transfers acknowledged as refused.
    pub rejected: u64,
    /// Transfers never acknowledged (gave up while the bank was down).
    pub unknown: u64,
    /// Acknowledged transfers whose marker was gone at the end, each
    /// lost whole.
    pub lost: u64,
    /// Their ids.
    pub lost_ids: Vec<u64>,
    /// When the first and the last of them were acknowledged, since the
    /// bank started.
    pub lost_window: Option<(Duration, Duration)>,
    /// Snapshots the auditor checked.
    pub audits: u64,
    /// Broken rules, each a sentence.
    pub violations: Vec<String>,
}

/// Every transfer attempted and what its client was told (a std mutex:
/// clients append once per transfer, far from any hot path).
struct Ledger {
    acks: Mutex<HashMap<u64, (Transfer, Ack)>>,
    /// When each transfer was acknowledged, since the bank started: where
    /// lost ones fall says what lost them.
    acked_at: Mutex<HashMap<u64, Duration>>,
    started: Instant,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            acks: Mutex::default(),
            acked_at: Mutex::default(),
            started: Instant::now(),
        }
    }

    fn record(&self, t: Transfer, ack: Ack) {
        lock(&self.acks).insert(t.id, (t, ack));
        lock(&self.acked_at).insert(t.id, self.started.elapsed());
    }

    fn take(&self) -> HashMap<u64, (Transfer, Ack)> {
        std::mem::take(&mut *lock(&self.acks))
    }
}

/// A poisoned lock only means another client panicked; its data is
/// still what was recorded.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a bank transaction failed.
#[derive(Debug)]
enum BankError {
    /// Talking to Redis failed (maybe retryable).
    Coord(CoordError),
    /// The data is not what the bank wrote: a broken rule, not an outage.
    Corrupt(String),
}

impl From<CoordError> for BankError {
    fn from(e: CoordError) -> Self {
        BankError::Coord(e)
    }
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BankError::Coord(e) => write!(f, "{e}"),
            BankError::Corrupt(what) => f.write_str(what),
        }
    }
}

/// A running bank workload.
pub struct Bank {
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<BankReport>,
}

impl Bank {
    /// Opens the accounts on `url` and starts the clients and the auditor
    /// in a thread of their own; `seed` picks the transfers.
    pub fn start(url: &str, seed: u64) -> anyhow::Result<Bank> {
        let url = CoordUrl::parse(url).map_err(|e| anyhow::anyhow!("bank URL: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let coords = runtime.block_on(async {
            let mut coords = Vec::new();
            for _ in 0..=CLIENTS {
                coords.push(Coordinator::open_with(&url, config()).await?);
            }
            for i in 0..ACCOUNTS {
                coords[0].put(&account(i), INITIAL.to_string()).await?;
            }
            Ok::<_, CoordError>(coords)
        });
        let coords = coords.map_err(|e| anyhow::anyhow!("opening the bank: {e}"))?;
        let shared = Arc::new(Shared {
            ledger: Ledger::new(),
            violations: Mutex::new(Vec::new()),
            audits: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("bank".into())
            .spawn(move || runtime.block_on(workload(url, coords, seed, for_thread)))?;
        Ok(Bank { shared, thread })
    }

    /// Stops the clients (each finishes or gives up its transfer in
    /// flight) and checks everything; `lossy` says whether acknowledged
    /// transfers may have been lost (the bank failed over).
    pub fn stop_and_verify(self, lossy: bool) -> BankReport {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut report = self.thread.join().unwrap_or_else(|_| BankReport {
            violations: vec!["the bank workload panicked".into()],
            ..BankReport::default()
        });
        if report.lost > 0 && !lossy {
            report.violations.push(format!(
                "{} acknowledged transfers were lost by a bank that never failed over \
                 (appendfsync always must keep every acknowledged write)",
                report.lost
            ));
        }
        report
    }
}

fn config() -> CoordConfig {
    CoordConfig {
        op_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..CoordConfig::default()
    }
}

/// All keys share the `{bank}` hash tag, as Redis Cluster would require.
fn account(i: usize) -> String {
    format!("{{bank}}:acct:{i}")
}

fn marker(id: u64) -> String {
    format!("{{bank}}:xfer:{id}")
}

/// Account `i`'s balance as read.
fn balance(i: usize, value: Option<Bytes>) -> Result<i64, BankError> {
    let value = value.ok_or_else(|| BankError::Corrupt(format!("account {i} is missing")))?;
    std::str::from_utf8(&value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| BankError::Corrupt(format!("account {i} holds {value:?}, not a number")))
}

async fn workload(
    url: CoordUrl,
    coords: Vec<Coordinator>,
    seed: u64,
    shared: Arc<Shared>,
) -> BankReport {
    let mut coords = coords.into_iter();
    let auditor_coord = coords.next().expect("an auditor connection");
    let clients: Vec<_> = coords
        .enumerate()
        .map(|(c, coord)| tokio::spawn(client(coord, c as u64, seed, Arc::clone(&shared))))
        .collect();
    let auditor = tokio::spawn(audit(auditor_coord, Arc::clone(&shared)));
    for client in clients {
        let _ = client.await;
    }
    let _ = auditor.await;
    let mut report = BankReport {
        audits: shared.audits.load(Ordering::Relaxed),
        violations: std::mem::take(&mut *lock(&shared.violations)),
        ..BankReport::default()
    };
    // A connection opened now, not a long-lived one: the final word is the
    // primary's the Sentinels name at the end. A connection kept from
    // before a failover can be reconnected to the old primary come back as
    // a replica, where reads still succeed.
    let coord = match Coordinator::open_with(&url, config()).await {
        Ok(coord) => coord,
        Err(e) => {
            report
                .violations
                .push(format!("the bank could not be opened at the end: {e}"));
            return report;
        }
    };
    let acked_at = lock(&shared.ledger.acked_at).clone();
    final_check(&coord, shared.ledger.take(), &mut report).await;
    let lost_at = report.lost_ids.iter().filter_map(|id| acked_at.get(id));
    report.lost_window = lost_at.clone().min().copied().zip(lost_at.max().copied());
    report
}

/// Checks a snapshot every [`AUDIT_EVERY`] until stopped; a snapshot that
/// cannot be read (the bank is down) checks nothing.
async fn audit(coord: Coordinator, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match snapshot(&coord).await {
            Ok(balances) => {
                shared.audits.fetch_add(1, Ordering::Relaxed);
                if let Some(broken) = money_rule(&balances) {
                    lock(&shared.violations).push(format!("audit: {broken}"));
                }
            }
            Err(broken @ BankError::Corrupt(_)) => {
                lock(&shared.violations).push(format!("audit: {broken}"));
            }
            Err(BankError::Coord(_)) => {}
        }
        tokio::time::sleep(AUDIT_EVERY).await;
    }
}

/// One client: transfers until stopped, each retried with its id until
/// acknowledged or [`GIVE_UP`] passes.
/// Shared by the clients and the auditor.
struct Shared {
    ledger: Ledger,
    violations: Mutex<Vec<String>>,
    audits: AtomicU64,
    stop: AtomicBool,
}

async fn client(coord: Coordinator, c: u64, seed: u64, shared: Arc<Shared>) {
    let (ledger, violations, stop) = (&shared.ledger, &shared.violations, &shared.stop);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(c + 1);
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let from = rng.random_range(0..ACCOUNTS);
        let t = Transfer {
            id: c << 40 | n,
            from,
            to: (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS,
            amount: rng.random_range(1..300),
        };
        n += 1;
        let deadline = tokio::time::Instant::now() + GIVE_UP;
        let ack = loop {
            match transfer(&coord, t).await {
                Ok(ack) => break ack,
                Err(BankError::Coord(e))
                    if e.is_retryable() && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(BankError::Coord(_)) => break Ack::Unknown,
                Err(broken @ BankError::Corrupt(_)) => {
                    lock(violations).push(format!("transfer {}: {broken}", t.id));
                    break Ack::Unknown;
                }
            }
        };
        ledger.record(t, ack);
        tokio::time::sleep(PACE).await;
    }
}

/// Runs one transfer; a repeat of a committed one changes nothing and
/// returns what the first commit decided.
async fn transfer(coord: &Coordinator, t: Transfer) -> Result<Ack, BankError> {
    coord
        .transact(|tx| async move {
            match tx.get(&marker(t.id)).await?.as_deref() {
                Some(b"applied") => return Ok(Ack::Applied),
                Some(_) => return Ok(Ack::Rejected),
                None => {}
            }
            let from = balance(t.from, tx.get(&account(t.from)).await?)?;
            let to = balance(t.to, tx.get(&account(t.to)).await?)?;
            if from < t.amount {
                tx.put(&marker(t.id), "rejected")?;
                return Ok(Ack::Rejected);
            }
            tx.put(&account(t.from), (from - t.amount).to_string())?;
            tx.put(&account(t.to), (to + t.amount).to_string())?;
            tx.put(&marker(t.id), "applied")?;
            Ok(Ack::Applied)
        })
        .await
}

/// All balances in one read-only transaction (a consistent snapshot: the
/// commit validates every version read).
async fn snapshot(coord: &Coordinator) -> Result<Vec<i64>, BankError> {
    coord
        .transact(|tx| async move {
            let mut balances = Vec::with_capacity(ACCOUNTS);
            for i in 0..ACCOUNTS {
                balances.push(balance(i, tx.get(&account(i)).await?)?);
            }
            Ok(balances)
        })
        .await
}

/// The money rule: the total is what was deposited, no balance negative.
fn money_rule(balances: &[i64]) -> Option<String> {
    let total: i64 = balances.iter().sum();
    if total != INITIAL * ACCOUNTS as i64 {
        return Some(format!(
            "money not preserved: total {total}, expected {} ({balances:?})",
            INITIAL * ACCOUNTS as i64
        ));
    }
    balances
        .iter()
        .any(|b| *b < 0)
        .then(|| format!("a negative balance: {balances:?}"))
}

/// The end-of-segment checks, with every client stopped (so plain reads
/// see one state).
async fn final_check(
    coord: &Coordinator,
    ledger: HashMap<u64, (Transfer, Ack)>,
    report: &mut BankReport,
) {
    // The bank may still be failing over or restarting: retry a while.
    let mut balances = Err(BankError::Corrupt("not read".into()));
    for _ in 0..60 {
        balances = snapshot(coord).await;
        match &balances {
            Err(BankError::Coord(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => break,
        }
    }
    let balances = match balances {
        Ok(balances) => balances,
        Err(e) => {
            report
                .violations
                .push(format!("the bank could not be read at the end: {e}"));
            return;
        }
    };
    if let Some(broken) = money_rule(&balances) {
        report.violations.push(format!("final: {broken}"));
    }
    let mut implied = vec![INITIAL; ACCOUNTS];
    let mut ids: Vec<&u64> = ledger.keys().collect();
    ids.sort();
    for id in ids {
        let (t, ack) = ledger[id];
        let mark = match read_marker(coord, id).await {
            Ok(mark) => mark,
            Err(e) => {
                report
                    .violations
                    .push(format!("cannot read the marker of transfer {id}: {e}"));
                return;
            }
        };
        match ack {
            Ack::Applied => report.applied += 1,
            Ack::Rejected => report.rejected += 1,
            Ack::Unknown => report.unknown += 1,
        }
        match (ack, mark.as_deref()) {
            (_, Some("applied")) => {
                implied[t.from] -= t.amount;
                implied[t.to] += t.amount;
                if ack == Ack::Rejected {
                    report.violations.push(format!(
                        "transfer {id} was acknowledged as refused but is recorded as applied"
                    ));
                }
            }
            (Ack::Applied, Some(_)) => report.violations.push(format!(
                "transfer {id} was acknowledged as applied but is recorded as refused"
            )),
            (Ack::Applied | Ack::Rejected, None) => {
                report.lost += 1;
                report.lost_ids.push(*id);
            }
            _ => {}
        }
    }
    if balances != implied {
        report.violations.push(format!(
            "the balances {balances:?} are not what the recorded transfers imply {implied:?} \
             (a transfer half-applied or applied twice)"
        ));
    }
}

async fn read_marker(coord: &Coordinator, id: &u64) -> Result<Option<String>, CoordError> {
    let mut last = None;
    for _ in 0..20 {
        match coord.get(&marker(*id)).await {
            Ok(v) => return Ok(v.map(|v| String::from_utf8_lossy(&v.value).into_owned())),
            Err(e) if e.is_retryable() => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("an error after retries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the accounts on an embedded coordinator and commits `n`
    /// transfers between accounts 0 and 1; returns the coordinator and
    /// the ledger of acknowledgements.
    async fn bank_with(n: u64) -> (Coordinator, HashMap<u64, (Transfer, Ack)>) {
        let coord = Coordinator::embedded();
        for i in 0..ACCOUNTS {
            coord.put(&account(i), INITIAL.to_string()).await.unwrap();
        }
        let mut ledger = HashMap::new();
        for id in 0..n {
            let t = Transfer {
                id,
                from: 0,
                to: 1,
                amount: 10,
            };
            let ack = transfer(&coord, t).await.unwrap();
            assert_eq!(ack, Ack::Applied);
            ledger.insert(id, (t, ack));
        }
        (coord, ledger)
    }

    async fn check(coord: &Coordinator, ledger: HashMap<u64, (Transfer, Ack)>) -> BankReport {
        let mut report = BankReport::default();
        final_check(coord, ledger, &mut report).await;
        report
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn an_honest_bank_passes_and_a_repeat_changes_nothing() {
        run(async {
            let (coord, ledger) = bank_with(5).await;
            // A retry of a committed transfer returns its first outcome.
            assert_eq!(transfer(&coord, ledger[&3].0).await.unwrap(), Ack::Applied);
            let report = check(&coord, ledger).await;
            assert_eq!(report.violations, Vec::<String>::new());
            assert_eq!((report.applied, report.lost), (5, 0));
        });
    }

    #[test]
    fn a_transfer_lost_whole_is_counted_not_a_violation() {
        run(async {
            let (coord, ledger) = bank_with(3).await;
            // What a failover losing the last commit leaves: no marker, and
            // the balances as before it.
            coord.delete(&marker(2)).await.unwrap();
            coord.put(&account(0), "980").await.unwrap();
            coord.put(&account(1), "1020").await.unwrap();
            let report = check(&coord, ledger).await;
            assert_eq!(report.violations, Vec::<String>::new());
            assert_eq!(report.lost, 1);
        });
    }

    #[test]
    fn half_applied_or_doubled_transfers_are_violations() {
        run(async {
            let (coord, ledger) = bank_with(3).await;
            coord.delete(&marker(2)).await.unwrap();
            let half = check(&coord, ledger.clone()).await;
            assert_eq!(half.violations.len(), 1, "{:?}", half.violations);

            let (coord, ledger) = bank_with(3).await;
            coord.put(&account(0), "960").await.unwrap();
            coord.put(&account(1), "1040").await.unwrap();
            let doubled = check(&coord, ledger).await;
            assert!(
                doubled
                    .violations
                    .iter()
                    .any(|v| v.contains("applied twice")),
                "{:?}",
                doubled.violations
            );
        });
    }

    #[test]
    fn money_created_or_destroyed_breaks_the_rule() {
        assert_eq!(money_rule(&[INITIAL; ACCOUNTS]), None);
        let mut more = [INITIAL; ACCOUNTS];
        more[0] += 1;
        assert!(money_rule(&more).is_some());
        let mut negative = [INITIAL; ACCOUNTS];
        negative[0] = -1;
        negative[1] += INITIAL + 1;
        assert!(money_rule(&negative).is_some());
    }
}
