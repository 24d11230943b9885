//! A user's funnel level: ClickHouse's `windowFunnel(window, 'strict_increase')`.
//!
//! The level is the largest k such that the user has events of types
//! step1..stepk at strictly increasing times with the k-th no more than the
//! window after the first (inclusive).
//!
//! Exact single pass over the user's events in time order: for each level i
//! keep the latest start among chains step1..stepi that ended strictly
//! before the current timestamp. A later start always dominates (it leaves
//! more of the window, and every such chain already ended earlier), so one
//! number per level suffices. Events sharing a timestamp are handled as a
//! group against the state from strictly earlier times, which is what makes
//! equal timestamps never advance the funnel. Unlike a greedy
//! overwrite-the-last-chain walk, this never loses a chain that a later
//! event of the same step would have replaced.

/// Reusable per-task scratch so the per-user walk allocates nothing.
#[derive(Debug, Default)]
pub struct FunnelScratch {
    /// Latest start of a chain reaching level i+1, visible to later times.
    best: Vec<Option<i64>>,
    /// Updates found in the current timestamp group, applied after it.
    pending: Vec<Option<i64>>,
}

impl FunnelScratch {
    /// The funnel level of one user.
    ///
    /// `events` yields `(ts_ms, step_mask)` in non-decreasing `ts_ms` order;
    /// bit i of `step_mask` is set when the event's type is step i+1 (a type
    /// may be several steps when `--funnel` repeats a name).
    pub fn level(
        &mut self,
        steps: usize,
        window_ms: u64,
        events: impl IntoIterator<Item = (i64, u32)>,
    ) -> usize {
        self.best.clear();
        self.best.resize(steps, None);
        self.pending.clear();
        self.pending.resize(steps, None);
        let window = i128::from(window_ms);
        let mut level = 0;
        let mut group_ts = None;
        for (ts, mask) in events {
            if mask == 0 {
                continue;
            }
            if group_ts != Some(ts) {
                self.flush();
                group_ts = Some(ts);
            }
            for i in 0..steps {
                if mask & (1 << i) == 0 {
                    continue;
                }
                let start = if i == 0 {
                    Some(ts)
                } else {
                    self.best[i - 1].filter(|&f| i128::from(ts) - i128::from(f) <= window)
                };
                if let Some(start) = start {
                    self.pending[i] = self.pending[i].max(Some(start));
                    level = level.max(i + 1);
                }
            }
            if level == steps {
                break;
            }
        }
        level
    }

    fn flush(&mut self) {
        for (best, pending) in self.best.iter_mut().zip(self.pending.iter_mut()) {
            *best = (*best).max(pending.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: u32 = 1;
    const C: u32 = 2;
    const P: u32 = 4;

    fn level(window: u64, events: &[(i64, u32)]) -> usize {
        FunnelScratch::default().level(3, window, events.iter().copied())
    }

    #[test]
    fn full_funnel_in_order() {
        assert_eq!(level(100, &[(0, V), (10, C), (20, P)]), 3);
    }

    #[test]
    fn equal_timestamps_do_not_advance() {
        assert_eq!(level(100, &[(5, V), (5, C), (5, P)]), 1);
        assert_eq!(level(100, &[(5, V), (5, C), (6, P)]), 1);
        assert_eq!(level(100, &[(5, V), (6, C), (6, P)]), 2);
    }

    #[test]
    fn window_is_inclusive() {
        assert_eq!(level(20, &[(0, V), (10, C), (20, P)]), 3);
        assert_eq!(level(19, &[(0, V), (10, C), (20, P)]), 2);
    }

    #[test]
    fn later_start_succeeds_where_earlier_fails() {
        // The view at 0 is too early for the purchase at 150; the one at 100 fits.
        let events = [(0, V), (100, V), (120, C), (150, P)];
        assert_eq!(level(60, &events), 3);
    }

    #[test]
    fn later_step_event_does_not_hide_an_earlier_chain() {
        // cart at 1 reaches level 2; the cart at 10 shares its time with the
        // purchase, but the chain view@0 → cart@1 → purchase@10 still counts.
        let events = [(0, V), (1, C), (10, C), (10, P)];
        assert_eq!(level(100, &events), 3);
    }

    #[test]
    fn order_matters_and_other_events_are_ignored() {
        assert_eq!(level(100, &[(0, C), (1, P), (2, V)]), 1);
        assert_eq!(level(100, &[(0, 0), (1, C)]), 0);
        assert_eq!(level(100, &[]), 0);
    }

    #[test]
    fn repeated_step_names_need_distinct_times() {
        // --funnel view,view: one event type is both steps.
        let mut s = FunnelScratch::default();
        assert_eq!(s.level(2, 10, [(0, 3), (0, 3)]), 1);
        assert_eq!(s.level(2, 10, [(0, 3), (1, 3)]), 2);
    }
}
