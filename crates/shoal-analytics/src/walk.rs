//! The per-user walk: every definition of the report applied to one user's
//! time-ordered events, accumulated into a partition's [`Partial`].

use crate::config::AnalyzeConfig;
use crate::date::day_of;
use crate::funnel::FunnelScratch;
use crate::hash::FixedMap;
use crate::index::{ByUser, PartitionIndex, NO_ITEM};
use crate::partial::{DayCounts, Partial, SessionTotals};

/// Accumulators of one partition, indexed by dense ids.
struct Walker<'c> {
    config: &'c AnalyzeConfig,
    /// Funnel step bit mask per event id.
    step_mask: Vec<u32>,
    by_type: Vec<u64>,
    item_events: Vec<u64>,
    item_users: Vec<u64>,
    /// Last user counted for an item: distinct users without a set.
    item_last_user: Vec<u32>,
    days: FixedMap<i32, DayCounts>,
    cohorts: FixedMap<i32, Vec<u64>>,
    sessions: SessionTotals,
    durations: FixedMap<u64, u64>,
    funnel: Vec<u64>,
    scratch: FunnelScratch,
}

/// Computes the partition's partial from its decoded index.
pub fn walk_partition(index: &PartitionIndex<'_>, config: &AnalyzeConfig) -> Partial {
    let grouped = ByUser::group(&index.rows, index.users);
    let step_mask = index
        .events
        .iter()
        .map(|name| {
            let mut mask = 0u32;
            for (i, step) in config.funnel_steps.iter().enumerate() {
                if step.as_bytes() == *name {
                    mask |= 1 << i;
                }
            }
            mask
        })
        .collect();
    let mut w = Walker {
        config,
        step_mask,
        by_type: vec![0; index.events.len()],
        item_events: vec![0; index.items.len()],
        item_users: vec![0; index.items.len()],
        item_last_user: vec![u32::MAX; index.items.len()],
        days: FixedMap::default(),
        cohorts: FixedMap::default(),
        sessions: SessionTotals::default(),
        durations: FixedMap::default(),
        funnel: vec![0; config.funnel_steps.len() + 1],
        scratch: FunnelScratch::default(),
    };
    for u in 0..index.users as usize {
        w.user(u as u32, grouped.user(u));
    }
    w.into_partial(index)
}

impl Walker<'_> {
    fn user(&mut self, user: u32, events: &[(i64, u32, u32)]) {
        let Some(&(first_ts, _, _)) = events.first() else {
            return;
        };
        let mut any_step = false;
        for &(_, event, item) in events {
            self.by_type[event as usize] += 1;
            any_step |= self.step_mask[event as usize] != 0;
            if item != NO_ITEM {
                let i = item as usize;
                self.item_events[i] += 1;
                if self.item_last_user[i] != user {
                    self.item_last_user[i] = user;
                    self.item_users[i] += 1;
                }
            }
        }
        self.days_and_retention(first_ts, events);
        self.sessions_of(events);
        let level = if any_step {
            let masks = &self.step_mask;
            let it = events.iter().map(|&(ts, e, _)| (ts, masks[e as usize]));
            let steps = self.config.funnel_steps.len();
            self.scratch.level(steps, self.config.funnel_window_ms, it)
        } else {
            0
        };
        self.funnel[level] += 1;
    }

    /// Events and activity per date (runs of equal dates, since events are
    /// time-ordered), first-event date and the cohort's active days.
    fn days_and_retention(&mut self, first_ts: i64, events: &[(i64, u32, u32)]) {
        let cohort_day = day_of(first_ts);
        self.days.entry(cohort_day).or_default().new_users += 1;
        let span = self.config.retention_days as usize + 1;
        let cohort = self
            .cohorts
            .entry(cohort_day)
            .or_insert_with(|| vec![0; span]);
        let mut run_day = cohort_day;
        let mut run_len = 0u64;
        let mut flush = |day: i32, len: u64, days: &mut FixedMap<i32, DayCounts>| {
            let c = days.entry(day).or_default();
            c.events += len;
            c.active_users += 1;
            let offset = i64::from(day) - i64::from(cohort_day);
            if let Some(slot) = usize::try_from(offset).ok().and_then(|d| cohort.get_mut(d)) {
                *slot += 1;
            }
        };
        for &(ts, _, _) in events {
            let day = day_of(ts);
            if day != run_day {
                flush(run_day, run_len, &mut self.days);
                run_day = day;
                run_len = 0;
            }
            run_len += 1;
        }
        flush(run_day, run_len, &mut self.days);
    }

    /// Splits the user's events into sessions: a gap strictly greater than
    /// the session gap starts a new one.
    fn sessions_of(&mut self, events: &[(i64, u32, u32)]) {
        let gap = i128::from(self.config.session_gap_ms);
        let mut start = events[0].0;
        let mut prev = start;
        let mut count = 0u64;
        for &(ts, _, _) in events {
            if i128::from(ts) - i128::from(prev) > gap {
                self.close_session(start, prev, count);
                start = ts;
                count = 0;
            }
            prev = ts;
            count += 1;
        }
        self.close_session(start, prev, count);
    }

    fn close_session(&mut self, start: i64, end: i64, events: u64) {
        let duration = end.abs_diff(start);
        let s = &mut self.sessions;
        s.count += 1;
        s.duration_ms += u128::from(duration);
        s.events += events;
        s.bounces += u64::from(events == 1);
        *self.durations.entry(duration).or_default() += 1;
        self.days.entry(day_of(start)).or_default().sessions += 1;
    }

    fn into_partial(self, index: &PartitionIndex<'_>) -> Partial {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut events_by_type: Vec<(String, u64)> = index
            .events
            .iter()
            .zip(&self.by_type)
            .map(|(name, &n)| (text(name), n))
            .collect();
        events_by_type.sort_unstable();
        let mut days: Vec<(i32, DayCounts)> = self.days.into_iter().collect();
        days.sort_unstable_by_key(|d| d.0);
        let mut cohorts: Vec<(i32, Vec<u64>)> = self.cohorts.into_iter().collect();
        cohorts.sort_unstable_by_key(|c| c.0);
        let mut durations: Vec<(u64, u64)> = self.durations.into_iter().collect();
        durations.sort_unstable();
        let items = index
            .items
            .iter()
            .enumerate()
            .map(|(i, name)| (text(name), self.item_events[i], self.item_users[i]))
            .collect();
        let rejected = index.stats.iter().map(|s| s.rejected).sum();
        let mut reads = index.stats.clone();
        reads.sort_by_key(|s| s.split);
        let mut partial = Partial {
            events: index.rows.len() as u64,
            rejected,
            reads,
            users: u64::from(index.users),
            events_by_type,
            days,
            sessions: self.sessions,
            durations: Vec::new(),
            funnel: self.funnel,
            cohorts,
            items,
        };
        partial.set_durations(durations);
        partial
    }
}
