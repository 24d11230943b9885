//! Exponential backoff with jitter, for waiting on busy leases and
//! retrying conflicting transactions without synchronised stampedes.

use std::time::Duration;

use rand::Rng;

/// Doubling delays from `min` to `max`, each drawn uniformly from
/// [half, full] of the current step so contenders spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    step: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `min`, never exceeds `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            step: min.max(Duration::from_micros(1)),
            max: max.max(min),
        }
    }

    /// The next delay (jittered) and advances the schedule.
    pub fn next_delay(&mut self) -> Duration {
        let full = self.step;
        self.step = (self.step * 2).min(self.max);
        let low = full / 2;
        let span = (full - low).as_nanos() as u64;
        low + Duration::from_nanos(rand::rng().random_range(0..=span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_bounded() {
        let mut b = Backoff::new(Duration::from_millis(2), Duration::from_millis(20));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(1) && first <= Duration::from_millis(2));
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(d <= Duration::from_millis(20) && d >= Duration::from_millis(1));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_millis(10), "{late:?}");
    }
}
