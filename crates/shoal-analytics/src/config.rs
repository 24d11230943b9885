//! The report's knobs (`--session-gap`, `--funnel`, ...), shared by the
//! planner, every task and the report writer.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// What the report measures. Travels inside the job params, so every node
/// computes with identical settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeConfig {
    /// A new session starts when the gap to the previous event is strictly
    /// greater than this many milliseconds.
    pub session_gap_ms: u64,
    /// Funnel step event types, in order.
    pub funnel_steps: Vec<String>,
    /// Funnel window in milliseconds (inclusive).
    pub funnel_window_ms: u64,
    /// Retention columns after day 0 (`active` has this many + 1 entries).
    pub retention_days: u32,
    /// How many top items the report lists.
    pub top: u32,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        AnalyzeConfig {
            session_gap_ms: 30 * 60 * 1000,
            funnel_steps: vec!["view".into(), "cart".into(), "purchase".into()],
            funnel_window_ms: 24 * 3600 * 1000,
            retention_days: 7,
            top: 10,
        }
    }
}

/// Most funnel steps supported: a step set is a bit mask per event type.
pub const MAX_FUNNEL_STEPS: usize = 32;

/// Most retention days supported (keeps partials and the heatmap bounded).
pub const MAX_RETENTION_DAYS: u32 = 3660;

impl AnalyzeConfig {
    /// Rejects settings the definitions cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.funnel_steps.is_empty() {
            return Err(ConfigError::EmptyFunnel);
        }
        if self.funnel_steps.len() > MAX_FUNNEL_STEPS {
            return Err(ConfigError::TooManySteps {
                steps: self.funnel_steps.len(),
                max: MAX_FUNNEL_STEPS,
            });
        }
        if let Some(i) = self.funnel_steps.iter().position(String::is_empty) {
            return Err(ConfigError::EmptyStep { position: i + 1 });
        }
        if self.retention_days > MAX_RETENTION_DAYS {
            return Err(ConfigError::RetentionTooLong {
                days: self.retention_days,
                max: MAX_RETENTION_DAYS,
            });
        }
        Ok(())
    }
}
