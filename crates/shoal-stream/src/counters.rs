//! Counters by group and name, as Hadoop Streaming programs report them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The group of the counters Shoal itself keeps (records in and out of
/// each stage).
pub const SHOAL_GROUP: &str = "shoal";

/// Counters: group → name → amount. Sorted, so printing and JSON are
/// stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counters(BTreeMap<String, BTreeMap<String, i64>>);

impl Counters {
    /// No counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` to `group`/`name` (wrapping instead of overflowing:
    /// a program reporting absurd amounts must not crash its task).
    pub fn add(&mut self, group: impl Into<String>, name: impl Into<String>, amount: i64) {
        let slot = self
            .0
            .entry(group.into())
            .or_default()
            .entry(name.into())
            .or_insert(0);
        *slot = slot.wrapping_add(amount);
    }

    /// The amount of `group`/`name`, 0 when never reported.
    pub fn get(&self, group: &str, name: &str) -> i64 {
        self.0
            .get(group)
            .and_then(|g| g.get(name))
            .copied()
            .unwrap_or(0)
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Counters) {
        for (group, names) in &other.0 {
            for (name, amount) in names {
                self.add(group.as_str(), name.as_str(), *amount);
            }
        }
    }

    /// Whether no counter was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every counter as (group, name, amount), sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.0.iter().flat_map(|(group, names)| {
            names
                .iter()
                .map(move |(name, amount)| (group.as_str(), name.as_str(), *amount))
        })
    }
}

impl fmt::Display for Counters {
    /// One `group.name  amount` line per counter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (group, name, amount) in self.iter() {
            writeln!(f, "{:>14}  {group}.{name}", amount)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_merge_and_print_sorted() {
        let mut a = Counters::new();
        a.add("words", "seen", 3);
        a.add("app", "bad", 1);
        let mut b = Counters::new();
        b.add("words", "seen", 4);
        a.merge(&b);
        assert_eq!(a.get("words", "seen"), 7);
        assert_eq!(a.get("words", "missing"), 0);
        assert_eq!(
            a.to_string(),
            "             1  app.bad\n             7  words.seen\n"
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"app":{"bad":1},"words":{"seen":7}}"#);
        assert_eq!(serde_json::from_str::<Counters>(&json).unwrap(), a);
    }
}
