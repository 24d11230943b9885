//! The report: the JSON shape from issue 3, key order included.
//!
//! Field order in these structs is the JSON key order; serde writes fields
//! in declaration order, so reordering a field changes the output.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole user-behaviour report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Accepted rows (duplicates count separately).
    pub events: u64,
    /// Skipped bad rows.
    pub rejected: u64,
    /// Distinct user ids.
    pub users: u64,
    /// Events per type, keys ascending (byte order).
    pub events_by_type: BTreeMap<String, u64>,
    /// One row per UTC date with at least one event, ascending.
    pub daily: Vec<DailyRow>,
    /// Session statistics.
    pub sessions: SessionsReport,
    /// Funnel users per step.
    pub funnel: FunnelReport,
    /// One cohort per first-event date, ascending.
    pub retention: Vec<CohortRow>,
    /// Items with the most events.
    pub top_items: Vec<TopItem>,
}

/// One UTC date of the `daily` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Events on this date.
    pub events: u64,
    /// Distinct users with an event on this date.
    pub active_users: u64,
    /// Users whose first event is on this date.
    pub new_users: u64,
    /// Sessions whose first event is on this date.
    pub sessions: u64,
}

/// Session statistics over all users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsReport {
    /// Number of sessions.
    pub count: u64,
    /// Mean of (last ts − first ts) in seconds; 0 without sessions.
    pub mean_duration_s: f64,
    /// Lower median duration (element (n−1)/2 ascending) in seconds.
    pub median_duration_s: f64,
    /// Mean events per session; 0 without sessions.
    pub mean_events: f64,
    /// Share of sessions with exactly one event; 0 without sessions.
    pub bounce_rate: f64,
}

/// Funnel result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    /// Step event types, in order.
    pub steps: Vec<String>,
    /// Window in seconds (an integer when whole).
    pub window_s: serde_json::Number,
    /// `users[i]`: users whose level is at least i + 1.
    pub users: Vec<u64>,
}

/// One retention cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortRow {
    /// First-event date of the cohort's users.
    pub cohort: String,
    /// Users in the cohort.
    pub size: u64,
    /// `active[d]`: cohort users with an event on cohort + d days.
    pub active: Vec<u64>,
}

/// One of the top items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopItem {
    /// The item id.
    pub item: String,
    /// Events naming this item.
    pub events: u64,
    /// Distinct users with such an event.
    pub users: u64,
}

impl Report {
    /// The report as pretty JSON with a trailing newline: the canonical
    /// bytes (`--out`, `--json`, the job's result).
    pub fn to_json(&self) -> String {
        // Only maps with string keys and finite floats: cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
