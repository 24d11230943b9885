//! Partial aggregates of one user partition, and their exact merge.
//!
//! Users are partitioned, so every per-user count (distinct users per date,
//! cohort sizes, funnel levels, distinct users per item) is simply summed
//! across partitions. Everything is an integer; floats appear only in
//! [`Merger::finish`]. The lower median needs the whole duration
//! distribution, so each partial carries its durations as an ascending
//! `(duration, count)` list (delta-encoded: mostly short varints).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::AnalyzeConfig;
use crate::date::format_day;
use crate::error::DecodeError;
use crate::hash::FixedMap;
use crate::record::ReadStats;
use crate::report::{CohortRow, DailyRow, FunnelReport, Report, SessionsReport, TopItem};

/// Per-date counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    /// Events on the date.
    pub events: u64,
    /// Distinct users active on the date.
    pub active_users: u64,
    /// Users whose first event is on the date.
    pub new_users: u64,
    /// Sessions starting on the date.
    pub sessions: u64,
}

impl DayCounts {
    fn add(&mut self, o: &DayCounts) {
        self.events += o.events;
        self.active_users += o.active_users;
        self.new_users += o.new_users;
        self.sessions += o.sessions;
    }
}

/// Session totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTotals {
    /// Sessions.
    pub count: u64,
    /// Sum of durations in milliseconds.
    pub duration_ms: u128,
    /// Events in all sessions.
    pub events: u64,
    /// Sessions with exactly one event.
    pub bounces: u64,
}

/// Everything one "users" task contributes to the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// Accepted rows seen by this partition.
    pub events: u64,
    /// Rejected rows (carried by partition 0 for the read stage).
    pub rejected: u64,
    /// What the read tasks reported besides rows, by split (carried by
    /// partition 0).
    pub reads: Vec<ReadStats>,
    /// Distinct users of this partition.
    pub users: u64,
    /// Events per type, ascending by name.
    pub events_by_type: Vec<(String, u64)>,
    /// Per-date counts, ascending by day number.
    pub days: Vec<(i32, DayCounts)>,
    /// Session totals.
    pub sessions: SessionTotals,
    /// Distinct durations ascending as `(delta from previous, sessions)`.
    pub durations: Vec<(u64, u64)>,
    /// `funnel[k]`: users whose level is exactly k.
    pub funnel: Vec<u64>,
    /// Cohort day → active users on cohort + d, for d in 0..=retention days.
    pub cohorts: Vec<(i32, Vec<u64>)>,
    /// `(item, events, distinct users)`, every item of the partition.
    pub items: Vec<(String, u64, u64)>,
}

/// How many rejected rows are kept for stderr.
pub const REJECT_SAMPLES: usize = 10;

impl Partial {
    /// Compact bytes for the merge stage.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Integers, strings and vectors only: serialization cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes partial number `index` (for the error message).
    pub fn from_bytes(bytes: &[u8], index: usize) -> Result<Partial, DecodeError> {
        postcard::from_bytes(bytes).map_err(|source| DecodeError::Partial { index, source })
    }

    /// Stores an ascending duration histogram delta-encoded.
    pub fn set_durations(&mut self, ascending: impl IntoIterator<Item = (u64, u64)>) {
        let mut prev = 0;
        self.durations = ascending
            .into_iter()
            .map(|(d, n)| {
                let delta = d - prev;
                prev = d;
                (delta, n)
            })
            .collect();
    }
}

/// Sums partials; [`Merger::finish`] turns the sums into the report.
#[derive(Debug, Default)]
pub struct Merger {
    events: u64,
    rejected: u64,
    reads: Vec<ReadStats>,
    users: u64,
    by_type: BTreeMap<String, u64>,
    days: BTreeMap<i32, DayCounts>,
    sessions: SessionTotals,
    durations: Vec<(u64, u64)>,
    funnel: Vec<u64>,
    cohorts: BTreeMap<i32, Vec<u64>>,
    items: FixedMap<String, (u64, u64)>,
}

impl Merger {
    /// Adds one partition's partial.
    pub fn add(&mut self, p: Partial) {
        self.events += p.events;
        self.rejected += p.rejected;
        self.reads.extend(p.reads);
        self.users += p.users;
        for (name, n) in p.events_by_type {
            *self.by_type.entry(name).or_default() += n;
        }
        for (day, c) in p.days {
            self.days.entry(day).or_default().add(&c);
        }
        self.sessions.count += p.sessions.count;
        self.sessions.duration_ms += p.sessions.duration_ms;
        self.sessions.events += p.sessions.events;
        self.sessions.bounces += p.sessions.bounces;
        let mut value = 0;
        for (delta, n) in p.durations {
            value += delta;
            self.durations.push((value, n));
        }
        add_vec(&mut self.funnel, &p.funnel);
        for (day, active) in p.cohorts {
            add_vec(self.cohorts.entry(day).or_default(), &active);
        }
        for (item, events, users) in p.items {
            let e = self.items.entry(item).or_default();
            e.0 += events;
            e.1 += users;
        }
    }

    /// What the read tasks reported besides rows, by split.
    pub fn take_reads(&mut self) -> Vec<ReadStats> {
        let mut reads = std::mem::take(&mut self.reads);
        reads.sort_by_key(|s| s.split);
        reads
    }

    /// The report, computed from the sums with `config`.
    pub fn finish(mut self, config: &AnalyzeConfig) -> Report {
        let steps = config.funnel_steps.len();
        self.funnel.resize(steps + 1, 0);
        // users[i] = users with level ≥ i + 1: a suffix sum of exact levels.
        let mut funnel_users = vec![0u64; steps];
        let mut acc = 0;
        for k in (1..=steps).rev() {
            acc += self.funnel[k];
            funnel_users[k - 1] = acc;
        }
        let days = config.retention_days as usize + 1;
        Report {
            events: self.events,
            rejected: self.rejected,
            users: self.users,
            events_by_type: std::mem::take(&mut self.by_type),
            daily: self
                .days
                .iter()
                .map(|(&day, c)| DailyRow {
                    date: format_day(day),
                    events: c.events,
                    active_users: c.active_users,
                    new_users: c.new_users,
                    sessions: c.sessions,
                })
                .collect(),
            sessions: self.session_report(),
            funnel: FunnelReport {
                steps: config.funnel_steps.clone(),
                window_s: seconds(config.funnel_window_ms),
                users: funnel_users,
            },
            retention: self
                .cohorts
                .iter()
                .map(|(&day, active)| {
                    let mut active = active.clone();
                    active.resize(days, 0);
                    CohortRow {
                        cohort: format_day(day),
                        size: active[0],
                        active,
                    }
                })
                .collect(),
            top_items: top_items(std::mem::take(&mut self.items), config.top as usize),
        }
    }

    fn session_report(&mut self) -> SessionsReport {
        let s = self.sessions;
        if s.count == 0 {
            return SessionsReport {
                count: 0,
                mean_duration_s: 0.0,
                median_duration_s: 0.0,
                mean_events: 0.0,
                bounce_rate: 0.0,
            };
        }
        let n = s.count as f64;
        SessionsReport {
            count: s.count,
            mean_duration_s: s.duration_ms as f64 / n / 1000.0,
            median_duration_s: lower_median(&mut self.durations, s.count) as f64 / 1000.0,
            mean_events: s.events as f64 / n,
            bounce_rate: s.bounces as f64 / n,
        }
    }
}

/// Element (n−1)/2 of the ascending multiset given as `(value, count)`.
fn lower_median(hist: &mut [(u64, u64)], n: u64) -> u64 {
    hist.sort_unstable();
    let target = (n - 1) / 2;
    let mut seen = 0;
    for &(value, count) in hist.iter() {
        seen += count;
        if seen > target {
            return value;
        }
    }
    0
}

/// The `top` items by events, ties by item ascending (byte order).
pub(crate) fn top_items(items: FixedMap<String, (u64, u64)>, top: usize) -> Vec<TopItem> {
    let mut all: Vec<(String, (u64, u64))> = items.into_iter().collect();
    let order = |a: &(String, (u64, u64)), b: &(String, (u64, u64))| {
        b.1 .0
            .cmp(&a.1 .0)
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    };
    if all.len() > top && top > 0 {
        all.select_nth_unstable_by(top - 1, order);
    }
    all.truncate(top);
    all.sort_unstable_by(order);
    all.into_iter()
        .map(|(item, (events, users))| TopItem {
            item,
            events,
            users,
        })
        .collect()
}

fn add_vec(into: &mut Vec<u64>, from: &[u64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// Milliseconds as a JSON number of seconds: an integer when whole.
fn seconds(ms: u64) -> serde_json::Number {
    if ms.is_multiple_of(1000) {
        (ms / 1000).into()
    } else {
        serde_json::Number::from_f64(ms as f64 / 1000.0).unwrap_or_else(|| 0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_median_takes_the_lower_middle_of_even_counts() {
        assert_eq!(
            lower_median(&mut [(10, 1), (20, 1), (30, 1), (40, 1)], 4),
            20
        );
        assert_eq!(lower_median(&mut [(40, 1), (10, 1), (30, 1)], 3), 30);
        assert_eq!(lower_median(&mut [(0, 2), (5, 2)], 4), 0);
        assert_eq!(lower_median(&mut [(0, 2), (5, 3)], 5), 5);
        assert_eq!(lower_median(&mut [(7, 1)], 1), 7);
    }

    #[test]
    fn top_items_break_ties_by_item_bytes() {
        let mut items = FixedMap::default();
        for (name, events) in [("b", 5), ("a", 5), ("Z", 5), ("c", 9), ("é", 5), ("d", 1)] {
            items.insert(name.to_string(), (events, 1));
        }
        let names: Vec<String> = top_items(items.clone(), 4)
            .into_iter()
            .map(|t| t.item)
            .collect();
        assert_eq!(names, ["c", "Z", "a", "b"]);
        let all: Vec<String> = top_items(items, 100).into_iter().map(|t| t.item).collect();
        assert_eq!(all, ["c", "Z", "a", "b", "é", "d"]);
    }

    #[test]
    fn merge_sums_partials_and_durations() {
        let mut a = Partial {
            events: 2,
            users: 1,
            funnel: vec![0, 1, 0, 0],
            ..Default::default()
        };
        a.sessions = SessionTotals {
            count: 2,
            duration_ms: 3000,
            events: 2,
            bounces: 2,
        };
        a.set_durations([(0, 1), (3000, 1)]);
        let mut b = Partial {
            events: 1,
            users: 1,
            funnel: vec![0, 0, 0, 1],
            ..Default::default()
        };
        b.sessions = SessionTotals {
            count: 1,
            duration_ms: 1000,
            events: 1,
            bounces: 1,
        };
        b.set_durations([(1000, 1)]);
        let mut m = Merger::default();
        m.add(Partial::from_bytes(&a.to_bytes(), 0).unwrap());
        m.add(b);
        let r = m.finish(&AnalyzeConfig::default());
        assert_eq!(r.events, 3);
        assert_eq!(r.users, 2);
        assert_eq!(r.funnel.users, vec![2, 1, 1]);
        assert_eq!(r.sessions.count, 3);
        assert_eq!(r.sessions.median_duration_s, 1.0);
        assert!((r.sessions.mean_duration_s - 4.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn window_seconds_are_integers_when_whole() {
        assert_eq!(seconds(86_400_000).to_string(), "86400");
        assert_eq!(seconds(1500).to_string(), "1.5");
    }
}
