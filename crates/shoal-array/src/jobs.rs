//! Built-in array jobs, registrable in any binary's registry (e.g. the
//! `shoal` CLI) so they run on a cluster: `AsJob(SortJob)`.

use serde::{Deserialize, Serialize};

use shoal_core::TaskError;

use crate::array::{decode_result, encode_blob};
use crate::part::Flow;
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
    /// The wrapping (mod 2^64) sum of the elements: independent of their
    /// order, so input and output can be compared.
    pub checksum: u64,
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

/// (len, first, last, ordered, checksum) of one sorted partition.
type PartSummary = (u64, u64, u64, bool, u64);

/// Summarises one partition as it streams by.
fn summarise_partition(items: Flow<u64>) -> Result<PartSummary, TaskError> {
    let (mut len, mut first, mut last, mut ordered, mut checksum) = (0u64, 0, 0, true, 0u64);
    items.for_each(|x| {
        if len == 0 {
            first = x;
        } else {
            ordered &= last <= x;
        }
        last = x;
        len += 1;
        checksum = checksum.wrapping_add(x);
    })?;
    Ok((len, first, last, ordered, checksum))
}

fn summarise(parts: Vec<PartSummary>) -> SortSummary {
    let mut out = SortSummary {
        sorted: true,
        ..SortSummary::default()
    };
    let mut previous: Option<u64> = None;
    for (len, first, last, ordered, checksum) in parts.into_iter().filter(|p| p.0 > 0) {
        out.checksum = out.checksum.wrapping_add(checksum);
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
        // Streamed partition by partition: the sorted array is never whole
        // in memory, so n may far exceed the memory budget.
        Ok(sorted.action(
            "array-sort",
            |ctx, compute| encode_blob(&[summarise_partition(compute(ctx)?)?]),
            |results| {
                let mut parts = Vec::with_capacity(results.len());
                for (index, blob) in results.iter().enumerate() {
                    parts.extend(decode_result::<PartSummary>(blob, index)?);
                }
                Ok(summarise(parts))
            },
        ))
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
        let input = s.range(10_000, 7).map(|i| mix(i ^ mix(3)));
        assert_eq!(summary.checksum, input.sum().unwrap());
        assert!(summary.max_partition < 10_000 / 7 * 2, "{summary:?}");
        let err = s
            .run_job(&SortJob, serde_json::json!({"n": "x"}))
            .unwrap_err();
        assert!(err.is_user_input(), "{err}");
    }
}
