//! The task timeline of one job, in time buckets per worker.
//!
//! A timeline with one element per task is what makes other dashboards
//! slow past a thousand tasks. Here each worker (a *lane*) has a row of
//! fixed-width buckets holding how much task time fell in it, how many
//! attempts ended in it and how many of those failed. The width starts at
//! 100 ms and doubles (neighbouring buckets merge) whenever the job outgrows
//! [`MAX_BUCKETS`], so the record's size depends on the number of workers
//! and never on the number of tasks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most buckets per lane; past it the buckets double in width.
pub const MAX_BUCKETS: usize = 240;
/// Width of a bucket when a job starts.
const FIRST_BUCKET_MS: u64 = 100;

/// Buckets per worker, plus the job's throughput, over the job's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Unix time (ms) where bucket 0 starts: the job's start.
    pub origin_ms: u64,
    /// Width of one bucket (ms).
    pub bucket_ms: u64,
    /// One lane per worker (or thread), by name.
    pub lanes: BTreeMap<String, Lane>,
    /// Tasks committed per bucket, over all lanes.
    pub done: Vec<u64>,
    /// Input bytes of the tasks committed per bucket.
    pub bytes: Vec<u64>,
}

/// One worker's buckets (all vectors have the same length).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// Task time (µs, summed over the worker's slots) inside each bucket.
    pub busy_us: Vec<u64>,
    /// Attempts that ended in each bucket.
    pub ended: Vec<u64>,
    /// Of those, failed.
    pub failed: Vec<u64>,
    /// The stage whose task last added time to each bucket (for colour).
    pub stage: Vec<u32>,
}

impl Lane {
    fn grow(&mut self, len: usize) {
        if self.busy_us.len() < len {
            self.busy_us.resize(len, 0);
            self.ended.resize(len, 0);
            self.failed.resize(len, 0);
            self.stage.resize(len, 0);
        }
    }

    fn halve(&mut self) {
        halve_sum(&mut self.busy_us);
        halve_sum(&mut self.ended);
        halve_sum(&mut self.failed);
        // The later bucket of each pair wins: stages run one after another.
        self.stage = self
            .stage
            .chunks(2)
            .map(|pair| *pair.last().unwrap_or(&0))
            .collect();
    }
}

/// Merges neighbouring buckets pairwise.
fn halve_sum(values: &mut Vec<u64>) {
    *values = values.chunks(2).map(|pair| pair.iter().sum()).collect();
}

fn grow(values: &mut Vec<u64>, len: usize) {
    if values.len() < len {
        values.resize(len, 0);
    }
}

impl Timeline {
    /// An empty timeline starting at `origin_ms` (Unix ms).
    pub fn new(origin_ms: u64) -> Self {
        Timeline {
            origin_ms,
            bucket_ms: FIRST_BUCKET_MS,
            lanes: BTreeMap::new(),
            done: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// The bucket holding Unix time `t_us`, widening buckets until it fits.
    /// Times before the origin (another machine's clock) count at 0.
    fn bucket_of(&mut self, t_us: u64) -> usize {
        loop {
            let offset = t_us.saturating_sub(self.origin_ms * 1000);
            let index = (offset / (self.bucket_ms * 1000)) as usize;
            if index < MAX_BUCKETS {
                return index;
            }
            self.widen();
        }
    }

    /// Doubles the bucket width.
    fn widen(&mut self) {
        self.bucket_ms *= 2;
        for lane in self.lanes.values_mut() {
            lane.halve();
        }
        halve_sum(&mut self.done);
        halve_sum(&mut self.bytes);
    }

    fn lane(&mut self, name: &str, len: usize) -> &mut Lane {
        if !self.lanes.contains_key(name) {
            self.lanes.insert(name.to_string(), Lane::default());
        }
        let lane = self.lanes.get_mut(name).expect("inserted above");
        lane.grow(len);
        lane
    }

    /// Adds one attempt that ran on `worker` from `started_us` to
    /// `ended_us` (Unix µs): its time spread over the buckets it covers,
    /// its end counted in the last one.
    pub fn add_attempt(
        &mut self,
        worker: &str,
        stage: u32,
        started_us: u64,
        ended_us: u64,
        failed: bool,
    ) {
        let ended_us = ended_us.max(started_us);
        let last = self.bucket_of(ended_us);
        let first = self.bucket_of(started_us);
        let origin_us = self.origin_ms * 1000;
        let width_us = self.bucket_ms * 1000;
        let lane = self.lane(worker, last + 1);
        let (start, end) = (started_us.max(origin_us), ended_us.max(origin_us));
        for index in first..=last {
            let from = origin_us + index as u64 * width_us;
            let to = from + width_us;
            let overlap = end.min(to).saturating_sub(start.max(from));
            lane.busy_us[index] += overlap;
            if overlap > 0 || index == last {
                lane.stage[index] = stage;
            }
        }
        lane.ended[last] += 1;
        lane.failed[last] += failed as u64;
    }

    /// Counts a committed task and its input bytes at Unix time `ended_us`.
    pub fn add_done(&mut self, ended_us: u64, bytes: u64) {
        let index = self.bucket_of(ended_us);
        grow(&mut self.done, index + 1);
        grow(&mut self.bytes, index + 1);
        self.done[index] += 1;
        self.bytes[index] += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN_MS: u64 = 1_700_000_000_000;

    fn at_ms(offset: u64) -> u64 {
        (ORIGIN_MS + offset) * 1000
    }

    #[test]
    fn an_attempt_spreads_its_time_over_the_buckets_it_covers() {
        let mut t = Timeline::new(ORIGIN_MS);
        t.add_attempt("w1", 0, at_ms(50), at_ms(250), false);
        let lane = &t.lanes["w1"];
        assert_eq!(lane.busy_us, vec![50_000, 100_000, 50_000]);
        assert_eq!(lane.ended, vec![0, 0, 1]);
        assert_eq!(lane.failed, vec![0, 0, 0]);
    }

    #[test]
    fn buckets_widen_instead_of_growing_past_the_limit() {
        let mut t = Timeline::new(ORIGIN_MS);
        for i in 0..10_000u64 {
            // 10,000 tasks of 10 ms, back to back over 100 s.
            t.add_attempt("w", 0, at_ms(i * 10), at_ms(i * 10 + 10), i % 100 == 0);
            t.add_done(at_ms(i * 10 + 10), 1);
        }
        let lane = &t.lanes["w"];
        assert!(lane.busy_us.len() <= MAX_BUCKETS);
        assert!(t.bucket_ms >= 100_000 / MAX_BUCKETS as u64);
        assert_eq!(lane.ended.iter().sum::<u64>(), 10_000);
        assert_eq!(lane.failed.iter().sum::<u64>(), 100);
        assert_eq!(lane.busy_us.iter().sum::<u64>(), 100_000_000);
        assert_eq!(t.done.iter().sum::<u64>(), 10_000);
        assert_eq!(t.bytes.iter().sum::<u64>(), 10_000);
    }

    #[test]
    fn times_before_the_origin_count_at_the_start() {
        let mut t = Timeline::new(ORIGIN_MS);
        t.add_attempt("w", 1, at_ms(0) - 5_000_000, at_ms(10), false);
        assert_eq!(t.lanes["w"].busy_us, vec![10_000]);
        assert_eq!(t.lanes["w"].stage, vec![1]);
    }
}
