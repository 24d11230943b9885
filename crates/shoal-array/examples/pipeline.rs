//! A DistArray pipeline run three ways: inline on an embedded session, as
//! a registered array job, and the way a cluster worker runs it (rebuilt
//! from the job's name and JSON parameters through a registry).
//!
//! `cargo run -p shoal-array --example pipeline -- 1000000 8`
//!
//! On a cluster, the same `DigitSums` job is registered in the registry
//! every `shoal worker` builds (`AsJob(DigitSums)`), and the driver runs
//! `Session::remote(Arc::new(cluster_executor), "<shared store URL>")
//! .run_job(&DigitSums, params)`: only the name and the parameters travel
//! through Redis; each worker runs its own copy of the closures below.
//! `tests/cluster.rs` does exactly that with the built-in
//! `shoal_array::jobs::SortJob` on a real Redis and worker.

use std::sync::Arc;

use shoal_array::{Action, ArrayError, ArrayJob, AsJob, Session};
use shoal_core::{run_job, EmbeddedConfig, EmbeddedExecutor, JobSpec, NoProgress, Registry};

/// For `0..n`: the sum of the numbers with each digit sum, largest sums
/// first, as `(digit sum, total)`.
struct DigitSums;

fn digit_sum(mut x: u64) -> u32 {
    let mut sum = 0;
    while x > 0 {
        sum += (x % 10) as u32;
        x /= 10;
    }
    sum
}

impl ArrayJob for DigitSums {
    type Output = Vec<(u32, u64)>;

    fn name(&self) -> &'static str {
        "digit-sums"
    }

    fn describe(&self) -> &'static str {
        "totals of 0..n grouped by digit sum (DistArray example)"
    }

    fn build(
        &self,
        session: &Session,
        params: &serde_json::Value,
    ) -> Result<Action<Self::Output>, ArrayError> {
        let n = params["n"].as_u64().unwrap_or(1_000_000);
        let partitions = params["partitions"].as_u64().unwrap_or(8) as u32;
        // range → (fused) map → hash shuffle with map-side combining →
        // sample sort (sample, route, merge) → collect: four stages.
        Ok(session
            .range(n, partitions)
            .map(|x| (digit_sum(x), x))
            .reduce_by_key(|a, b| a + b)
            .sort_by_key(|&(_, total)| std::cmp::Reverse(total))
            .collect_action())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let partitions: u32 = args.get(2).map_or(Ok(8), |a| a.parse())?;
    let params = serde_json::json!({ "n": n, "partitions": partitions });

    // 1. Inline: build and run directly (embedded sessions only).
    let session = Session::embedded();
    let inline = session
        .range(n, partitions)
        .map(|x| (digit_sum(x), x))
        .reduce_by_key(|a, b| a + b)
        .sort_by_key(|&(_, total)| std::cmp::Reverse(total))
        .collect()?;

    // 2. As a registered job on the same session.
    let registered = session.run_job(&DigitSums, params.clone())?;
    assert_eq!(inline, registered);

    // 3. As a worker sees it: the plan rebuilt from name + params by the
    //    registry, run by an executor, finished by the driver's action.
    let registry = Registry::new().with(Arc::new(AsJob(DigitSums)));
    let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
    let output = run_job(
        &executor,
        &registry,
        JobSpec::new("digit-sums", params.clone()),
        &NoProgress,
    )?;
    // `run_job` finished it on the driver: the action's answer as JSON.
    let rebuilt: Vec<(u32, u64)> = serde_json::from_slice(&output.result)?;
    assert_eq!(inline, rebuilt);

    println!("0..{n} in {partitions} partitions, totals by digit sum (top 5):");
    for (digits, total) in inline.iter().take(5) {
        println!("  digit sum {digits:>3}: {total}");
    }
    println!("inline, registered and rebuilt-from-params runs agree");
    Ok(())
}
