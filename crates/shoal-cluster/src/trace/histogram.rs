//! Task durations counted in fixed buckets: the same bounds everywhere
//! (stage summaries, a job's record, the Prometheus histograms), so that
//! counts from many places add up.

use serde::{Deserialize, Serialize};

/// Upper bounds of the buckets, in seconds (Prometheus `le`); a last,
/// implicit bucket holds everything longer.
pub const BOUNDS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// How many task durations fell in each bucket, with their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationHistogram {
    /// Durations per bucket (not cumulative); one more than
    /// [`BOUNDS_SECONDS`], the last for durations above every bound.
    pub counts: Vec<u64>,
    /// Sum of all durations, in µs.
    pub sum_us: u64,
}

impl DurationHistogram {
    /// Counts one duration.
    pub fn observe_us(&mut self, duration_us: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BOUNDS_SECONDS.len() + 1];
        }
        let seconds = duration_us as f64 / 1e6;
        let bucket = BOUNDS_SECONDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BOUNDS_SECONDS.len());
        self.counts[bucket] += 1;
        self.sum_us += duration_us;
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &DurationHistogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BOUNDS_SECONDS.len() + 1];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum_us += other.sum_us;
    }

    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the durations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_us as f64 / 1e6
    }

    /// Cumulative counts per bound, as Prometheus wants them (`le` and the
    /// number of durations at most that long), ending with `+Inf`.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        let mut out = Vec::with_capacity(BOUNDS_SECONDS.len() + 1);
        for (i, bound) in BOUNDS_SECONDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .enumerate()
        {
            total += self.counts.get(i).copied().unwrap_or(0);
            out.push((bound, total));
        }
        out
    }

    /// The smallest bucket bound below which at least `q` (0..=1) of the
    /// durations fall, in seconds: an upper estimate of the quantile.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let wanted = (q * count as f64).ceil().max(1.0) as u64;
        self.cumulative()
            .into_iter()
            .find(|&(_, n)| n >= wanted)
            .map(|(bound, _)| bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_the_first_bucket_that_holds_them() {
        let mut h = DurationHistogram::default();
        h.observe_us(300); // 0.3 ms
        h.observe_us(1_000); // exactly 1 ms: le="0.001" includes it
        h.observe_us(2_000_000_000); // beyond every bound
        let cumulative = h.cumulative();
        assert_eq!(cumulative[0], (0.0005, 1));
        assert_eq!(cumulative[1], (0.001, 2));
        assert_eq!(cumulative.last(), Some(&(f64::INFINITY, 3)));
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum_us, 2_000_001_300);
    }

    #[test]
    fn merging_adds_counts_and_sums() {
        let mut a = DurationHistogram::default();
        a.observe_us(10_000);
        let mut b = DurationHistogram::default();
        b.observe_us(10_000);
        b.observe_us(20_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.sum_us, 20_020_000);
        assert_eq!(a.quantile_bound(0.5), Some(0.01));
        assert_eq!(a.quantile_bound(1.0), Some(30.0));
        assert_eq!(DurationHistogram::default().quantile_bound(0.5), None);
    }
}
