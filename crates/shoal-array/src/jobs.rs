//! Built-in array jobs, registrable in any binary's registry (e.g. the
//! `shoal` CLI) so they run on a cluster: `AsJob(SortJob)`.

use serde::{Deserialize, Serialize};

use crate::{Action, ArrayError, ArrayJob, Session};

/// Parameters of [`SortJob`] (`array-sort`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortParams {
    /// How many pseudo-random u64 to sort.
    pub n: u64,
    /// Partitions of the input and of the sorted output.
    pub partitions: u32,
    /// Seed of the generator: the same seed gives the same numbers.
    #[serde(default)]
    pub seed: u64,
    /// Where to save the sorted array (a store URL every node reaches);
    /// not saved when absent.
    #[serde(default)]
    pub output: Option<String>,
}

/// What [`SortJob`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortSummary {
    /// Elements sorted.
    pub count: u64,
    /// Smallest element (0 when empty).
    pub first: u64,
    /// Largest element (0 when empty).
    pub last: u64,
    /// Whether the output is globally ordered (checked partition by partition).
    pub sorted: bool,
    /// Largest partition, to judge balance.
    pub max_partition: u64,
}

/// `array-sort`: generates `n` pseudo-random u64 inside the tasks, sample
/// sorts them and reports a summary (optionally saving the sorted array).
#[derive(Debug, Clone, Copy, Default)]
pub struct SortJob;

/// SplitMix64 of `x`: the generator, stateless so any task computes any
/// element.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// (len, first, last, ordered) of one sorted partition.
type PartSummary = (u64, u64, u64, bool);

fn summarise(parts: Vec<PartSummary>) -> SortSummary {
    let mut out = SortSummary {
        sorted: true,
        ..SortSummary::default()
    };
    let mut previous: Option<u64> = None;
    for (len, first, last, ordered) in parts.into_iter().filter(|p| p.0 > 0) {
        out.sorted &= ordered && previous.is_none_or(|p| p <= first);
        if out.count == 0 {
            out.first = first;
        }
        out.count += len;
        out.last = last;
        out.max_partition = out.max_partition.max(len);
        previous = Some(last);
    }
    out
}

impl ArrayJob for SortJob {
    type Output = SortSummary;

    fn name(&self) -> &'static str {
        "array-sort"
    }

    fn describe(&self) -> &'static str {
        "sample-sort n pseudo-random u64 with DistArray (params: n, partitions, seed, output)"
    }

    fn build(
        &self,
        session: &Session,
        params: &serde_json::Value,
    ) -> Result<Action<SortSummary>, ArrayError> {
        let p: SortParams =
            serde_json::from_value(params.clone()).map_err(|e| ArrayError::Input {
                path: "array-sort parameters".into(),
                reason: e.to_string(),
            })?;
        let seed = p.seed;
        let sorted = session
            .range(p.n, p.partitions)
            .map(move |i| mix(i ^ mix(seed)))
            .sort();
        if let Some(url) = p.output {
            return Ok(sorted.save_action(&url).map(|manifest| {
                let count = manifest.lengths.iter().sum();
                SortSummary {
                    count,
                    sorted: true,
                    max_partition: manifest.lengths.iter().copied().max().unwrap_or(0),
                    ..SortSummary::default()
                }
            }));
        }
        Ok(sorted
            .map_partitions(|items: Vec<u64>| {
                let ordered = items.windows(2).all(|w| w[0] <= w[1]);
                let first = items.first().copied().unwrap_or(0);
                let last = items.last().copied().unwrap_or(0);
                vec![(items.len() as u64, first, last, ordered)]
            })
            .collect_action()
            .map(summarise))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_summarises_and_rejects_bad_params() {
        let s = Session::embedded();
        let params = serde_json::json!({"n": 10_000, "partitions": 7, "seed": 3});
        let summary = s.run_job(&SortJob, params).unwrap();
        assert_eq!(summary.count, 10_000);
        assert!(summary.sorted && summary.first <= summary.last);
        assert!(summary.max_partition < 10_000 / 7 * 2, "{summary:?}");
        let err = s
            .run_job(&SortJob, serde_json::json!({"n": "x"}))
            .unwrap_err();
        assert!(err.is_user_input(), "{err}");
    }
}
