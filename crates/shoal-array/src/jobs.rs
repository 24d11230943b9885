//! Built-in array jobs, registrable in any binary's registry (e.g. the
//! `shoal` CLI) so they run on a cluster: `AsJob(SortJob)`.

use serde::{Deserialize, Serialize};

use shoal_core::TaskError;

use crate::array::{decode_result, encode_blob};
use crate::part::Flow;
use crate::{Action, ArrayError, ArrayJob, DistArray, Session};

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

/// What [`SortJob`] reports (its result, as JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortSummary {
    /// Elements sorted.
    pub count: u64,
    /// Smallest element (0 when empty).
    pub first: u64,
    /// Largest element (0 when empty).
    pub last: u64,
    /// The wrapping (mod 2^64) sum of the elements. It does not depend on
    /// order, so it compares a sorted output with its input.
    pub checksum: u64,
    /// Whether every element is ≤ the next (checked within and across
    /// partitions).
    pub sorted: bool,
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

/// What one sorted partition contributes to the summary, accumulated
/// value by value so a partition can stream past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct PartSummary {
    len: u64,
    first: u64,
    last: u64,
    ordered: bool,
    checksum: u64,
}

impl PartSummary {
    const EMPTY: PartSummary = PartSummary {
        len: 0,
        first: 0,
        last: 0,
        ordered: true,
        checksum: 0,
    };

    fn push(&mut self, x: u64) {
        if self.len == 0 {
            self.first = x;
        } else {
            self.ordered &= self.last <= x;
        }
        self.last = x;
        self.len += 1;
        self.checksum = self.checksum.wrapping_add(x);
    }

    /// Of a partition in memory (one being saved).
    fn of_slice(items: &[u64]) -> PartSummary {
        let mut summary = PartSummary::EMPTY;
        items.iter().for_each(|&x| summary.push(x));
        summary
    }

    /// Of a partition as it streams by.
    fn of_flow(items: Flow<u64>) -> Result<PartSummary, TaskError> {
        let mut summary = PartSummary::EMPTY;
        items.for_each(|x| summary.push(x))?;
        Ok(summary)
    }
}

fn summarise(parts: Vec<PartSummary>) -> SortSummary {
    let mut out = SortSummary {
        sorted: true,
        ..SortSummary::default()
    };
    let mut previous: Option<u64> = None;
    for part in parts.into_iter().filter(|p| p.len > 0) {
        out.sorted &= part.ordered && previous.is_none_or(|p| p <= part.first);
        if out.count == 0 {
            out.first = part.first;
        }
        out.count += part.len;
        out.last = part.last;
        out.checksum = out.checksum.wrapping_add(part.checksum);
        previous = Some(part.last);
    }
    out
}

/// The numbers [`SortJob`] sorts, sorted: element i is `mix(i ^ mix(seed))`.
fn sorted_numbers(session: &Session, p: &SortParams) -> DistArray<u64> {
    let seed = p.seed;
    session
        .range(p.n, p.partitions)
        .map(move |i| mix(i ^ mix(seed)))
        .sort()
}

impl ArrayJob for SortJob {
    type Output = SortSummary;

    fn name(&self) -> &'static str {
        "array-sort"
    }

    fn describe(&self) -> &'static str {
        "sample-sort n pseudo-random u64 with DistArray; prints count, first, last, checksum, sorted (params: n, partitions, seed, output)"
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
        let sorted = sorted_numbers(session, &p);
        if let Some(url) = &p.output {
            return Ok(sorted
                .save_summarised_action(url, PartSummary::of_slice)
                .map(|(_, parts)| summarise(parts)));
        }
        // Streamed partition by partition: the sorted array is never whole
        // in memory, so n may far exceed the memory budget.
        Ok(sorted.action(
            "array-sort",
            |ctx, compute| encode_blob(&[PartSummary::of_flow(compute(ctx)?)?]),
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

    fn params(n: u64, partitions: u32, seed: u64) -> SortParams {
        SortParams {
            n,
            partitions,
            seed,
            output: None,
        }
    }

    #[test]
    fn sorts_and_summarises_and_rejects_bad_params() {
        let s = Session::embedded();
        let p = params(10_000, 7, 3);
        let summary = s
            .run_job(&SortJob, serde_json::to_value(&p).unwrap())
            .unwrap();
        let input: Vec<u64> = (0..p.n).map(|i| mix(i ^ mix(p.seed))).collect();
        let expected = SortSummary {
            count: 10_000,
            first: *input.iter().min().unwrap(),
            last: *input.iter().max().unwrap(),
            checksum: input.iter().fold(0u64, |a, &x| a.wrapping_add(x)),
            sorted: true,
        };
        assert_eq!(summary, expected);
        let err = s
            .run_job(&SortJob, serde_json::json!({"n": "x"}))
            .unwrap_err();
        assert!(err.is_user_input(), "{err}");
    }

    #[test]
    fn the_sample_sort_is_balanced() {
        let s = Session::embedded();
        let lengths = s.execute(sorted_numbers(&s, &params(10_000, 7, 3)).lengths_action());
        let largest = lengths.unwrap().into_iter().max().unwrap();
        assert!(largest < 10_000 / 7 * 2, "largest partition {largest}");
    }

    #[test]
    fn the_summary_notices_disorder_within_and_across_partitions() {
        let parts = |runs: &[&[u64]]| {
            runs.iter()
                .map(|r| PartSummary::of_slice(r))
                .collect::<Vec<_>>()
        };
        assert!(summarise(parts(&[&[1, 2], &[], &[2, 5]])).sorted);
        assert!(!summarise(parts(&[&[1, 3], &[2, 5]])).sorted);
        assert!(!summarise(parts(&[&[2, 1], &[3]])).sorted);
        let wrapping = summarise(parts(&[&[u64::MAX], &[u64::MAX]]));
        assert_eq!((wrapping.count, wrapping.checksum), (2, u64::MAX - 1));
        assert_eq!(
            summarise(vec![]),
            SortSummary {
                sorted: true,
                ..SortSummary::default()
            }
        );
    }
}
