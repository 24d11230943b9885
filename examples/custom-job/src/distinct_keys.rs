//! `distinct-keys`: a DistArray pipeline as a job.
//!
//! ```text
//! custom-job run distinct-keys --params '{"inputs": ["logs/"], "column": "user", "out": "keys/"}'
//! {"count":1234}
//! ```
//!
//! The distinct values of `column` in CSV files with a header, sorted
//! (byte order) and saved at `out` (a path or store URL every node
//! reaches; read it back with `Session::load::<String>`); the result is
//! their count.

use serde::Deserialize;
use shoal::serde_json::{json, Value};
use shoal::{Action, ArrayError, ArrayJob, Session};

/// The parameters of `distinct-keys`.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// CSV files, directories or globs (local or store URLs).
    pub inputs: Vec<String>,
    /// The column whose values are collected.
    pub column: String,
    /// Where the sorted distinct values are saved.
    pub out: String,
}

/// The distinct values of one CSV column, sorted, saved, counted.
pub struct DistinctKeys;

impl ArrayJob for DistinctKeys {
    type Output = Value;

    fn name(&self) -> &'static str {
        "distinct-keys"
    }

    fn describe(&self) -> &'static str {
        "distinct values of a CSV column, sorted, saved at out (params: inputs, column, out)"
    }

    fn build(&self, session: &Session, params: &Value) -> Result<Action<Value>, ArrayError> {
        let p: Params = Params::deserialize(params).map_err(|e| ArrayError::Input {
            path: "distinct-keys parameters".into(),
            reason: e.to_string(),
        })?;
        let keys = session.csv_column(&p.inputs, &p.column)?.distinct().sort();
        Ok(keys
            .save_action(&p.out)
            .map(|saved| json!({ "count": saved.lengths.iter().sum::<u64>() })))
    }
}
