//! Waiting for a condition under a deadline: the one polling loop of the
//! test suite.
//!
//! A test that waits for something another process or thread does must
//! poll the condition itself — a sleep of a guessed length is either too
//! short on a loaded machine (a flaky test) or too long everywhere. The
//! condition says what it saw when it is not yet true ([`Outcome`]), so a
//! timeout reports the last observation, not just "timed out".

use std::fmt::{self, Debug};
use std::time::{Duration, Instant};

/// The first pause between polls; it doubles up to [`MAX_PAUSE`], so a
/// quick condition is seen quickly and a slow one is not hammered.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between polls.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// What a polled condition returns: done, with a value, or not yet, with
/// what it saw (shown when the deadline passes).
pub trait Outcome {
    /// What the wait returns once the condition holds.
    type Value;
    /// `Ok(value)` when done, `Err(last observation)` when not yet.
    fn into_result(self) -> Result<Self::Value, String>;
}

impl Outcome for bool {
    type Value = ();
    fn into_result(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("the condition was still false".to_string())
        }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn into_result(self) -> Result<T, String> {
        self.ok_or_else(|| "the condition was still None".to_string())
    }
}

/// `Err(seen)` is "not yet"; `seen` (say, the last status or error)
/// appears in the timeout message.
impl<T, E: Debug> Outcome for Result<T, E> {
    type Value = T;
    fn into_result(self) -> Result<T, String> {
        self.map_err(|seen| format!("last seen: {seen:?}"))
    }
}

/// The deadline passed before the condition held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut {
    /// How long the condition was polled.
    pub waited: Duration,
    /// The condition's last "not yet" observation.
    pub last: String,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not within {:?} ({})", self.waited, self.last)
    }
}

impl std::error::Error for TimedOut {}

/// Polls `condition` until it holds or `within` has passed; the
/// condition is always checked at least once, and once more at the
/// deadline.
///
/// # Errors
/// [`TimedOut`] with the last observation, for callers that recover (a
/// server fixture retrying on another port).
pub fn try_eventually<O: Outcome>(
    within: Duration,
    mut condition: impl FnMut() -> O,
) -> Result<O::Value, TimedOut> {
    let deadline = Instant::now() + within;
    let mut pause = FIRST_PAUSE;
    loop {
        let last = match condition().into_result() {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(TimedOut {
                waited: within,
                last,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Polls `condition` until it holds and returns its value.
///
/// # Panics
/// When `within` passes first, naming `what` was awaited and the last
/// observation — a test that waited in vain fails.
pub fn eventually<O: Outcome>(
    within: Duration,
    what: &str,
    condition: impl FnMut() -> O,
) -> O::Value {
    try_eventually(within, condition)
        .unwrap_or_else(|timeout| panic!("timed out waiting for {what}: {timeout}"))
}

/// [`eventually`] for async conditions: polls on the tokio timer, so the
/// runtime's other tasks keep running between checks.
///
/// # Panics
/// When `within` passes first, naming `what` and the last observation.
pub async fn eventually_async<O, F, Fut>(within: Duration, what: &str, mut condition: F) -> O::Value
where
    O: Outcome,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = O>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = FIRST_PAUSE;
    loop {
        let last = match condition().await.into_result() {
            Ok(value) => return value,
            Err(last) => last,
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let timeout = TimedOut {
                waited: within,
                last,
            };
            panic!("timed out waiting for {what}: {timeout}");
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_once_the_condition_holds() {
        let mut polls = 0;
        let value = eventually(Duration::from_secs(5), "the third poll", || {
            polls += 1;
            (polls == 3).then_some(polls * 10)
        });
        assert_eq!(value, 30);
    }

    #[test]
    fn a_condition_that_never_holds_times_out_with_the_last_observation() {
        let started = Instant::now();
        let mut polls = 0;
        let err = try_eventually(Duration::from_millis(60), || {
            polls += 1;
            Err::<(), _>(format!("poll {polls}"))
        })
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert!(polls >= 2, "polled once only");
        assert_eq!(err.last, format!("last seen: \"poll {polls}\""));
    }

    #[test]
    #[should_panic(expected = "timed out waiting for the impossible")]
    fn eventually_panics_naming_what_it_waited_for() {
        eventually(Duration::from_millis(10), "the impossible", || false);
    }

    #[test]
    fn the_async_form_polls_until_true() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut polls = 0;
        runtime.block_on(eventually_async(
            Duration::from_secs(5),
            "two polls",
            || {
                polls += 1;
                let done = polls >= 2;
                async move { done }
            },
        ));
        assert_eq!(polls, 2);
    }
}
