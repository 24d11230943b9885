//! The statistics of one key: count, sum, min and max of its numbers,
//! where integers stay integers.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// A number from the value column: an integer while it fits in `i64`,
/// otherwise (or when written with a fraction or exponent) a float.
/// Serialises as a plain JSON number: `3` or `3.5`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Num {
    /// An integer, e.g. `42`.
    Int(i64),
    /// A finite float, e.g. `2.5` or `1e3`.
    Float(f64),
}

impl Num {
    /// Parses a CSV field (surrounding spaces ignored); `None` for text,
    /// empty fields and non-finite floats (`NaN`, `inf`).
    pub fn parse(field: &str) -> Option<Num> {
        let field = field.trim();
        if let Ok(int) = field.parse::<i64>() {
            return Some(Num::Int(int));
        }
        field
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Num::Float)
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The sum; integers stay integers unless the sum overflows `i64`.
    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }

    fn cmp(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            // Both finite: a total order.
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }
}

/// What the output shows for one key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Rows with this key (and a number in the value column).
    pub count: u64,
    /// Sum of their values.
    pub sum: Num,
    /// Smallest value (the first seen among equals).
    pub min: Num,
    /// Largest value (the first seen among equals).
    pub max: Num,
}

impl KeyStats {
    /// The statistics of one value.
    pub fn of(value: Num) -> KeyStats {
        KeyStats {
            count: 1,
            sum: value,
            min: value,
            max: value,
        }
    }

    /// Adds `later`'s rows. Always called in input order (rows in file
    /// order, partials in map-task order), so float sums come out the same
    /// on every run.
    pub fn merge(&mut self, later: KeyStats) {
        self.count += later.count;
        self.sum = self.sum.add(later.sum);
        if later.min.cmp(self.min) == Ordering::Less {
            self.min = later.min;
        }
        if later.max.cmp(self.max) == Ordering::Greater {
            self.max = later.max;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_floats_and_refuses_the_rest() {
        assert_eq!(Num::parse(" 42 "), Some(Num::Int(42)));
        assert_eq!(Num::parse("-7"), Some(Num::Int(-7)));
        assert_eq!(Num::parse("2.5"), Some(Num::Float(2.5)));
        assert_eq!(Num::parse("1e3"), Some(Num::Float(1000.0)));
        for bad in ["", "abc", "NaN", "inf", "1,5"] {
            assert_eq!(Num::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers_stay_integers_until_a_float_or_overflow() {
        let mut s = KeyStats::of(Num::Int(3));
        s.merge(KeyStats::of(Num::Int(-1)));
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (2, Num::Int(2), Num::Int(-1), Num::Int(3))
        );
        s.merge(KeyStats::of(Num::Float(0.5)));
        assert_eq!(
            (s.sum, s.min, s.max),
            (Num::Float(2.5), Num::Int(-1), Num::Int(3))
        );
        let mut big = KeyStats::of(Num::Int(i64::MAX));
        big.merge(KeyStats::of(Num::Int(1)));
        assert!(matches!(big.sum, Num::Float(_)));
    }

    #[test]
    fn numbers_are_plain_json_numbers() {
        let s = KeyStats::of(Num::Int(3));
        let json = shoal::serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"count":1,"sum":3,"min":3,"max":3}"#);
        let back: KeyStats = shoal::serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let float: Num = shoal::serde_json::from_str("3.0").unwrap();
        assert_eq!(float, Num::Float(3.0));
    }
}
