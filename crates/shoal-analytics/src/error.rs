//! Typed errors of the analytics crate.

use thiserror::Error;

/// A report setting the definitions cannot work with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `--funnel` named no steps.
    #[error("--funnel needs at least one step")]
    EmptyFunnel,
    /// `--funnel` named more steps than a step mask holds.
    #[error("--funnel has {steps} steps; at most {max} are supported")]
    TooManySteps {
        /// Steps given.
        steps: usize,
        /// Steps supported.
        max: usize,
    },
    /// A funnel step was the empty string (e.g. `view,,cart`).
    #[error("--funnel step {position} is empty")]
    EmptyStep {
        /// 1-based position of the empty step.
        position: usize,
    },
    /// `--retention-days` beyond the supported maximum.
    #[error("--retention-days {days} is more than the supported {max}")]
    RetentionTooLong {
        /// Days asked for.
        days: u32,
        /// Days supported.
        max: u32,
    },
}

/// Bytes that should have been written by this crate failed to decode:
/// a shuffle block or a partial from another version or a corrupt store.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// A shuffle record was cut short or malformed.
    #[error("corrupt shuffle block {block} at byte {offset}: {what}")]
    Record {
        /// Index of the block in the task's shuffle input.
        block: usize,
        /// Byte offset of the record inside the block.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// A partial aggregate failed to deserialize.
    #[error("corrupt partial aggregate {index}: {source}")]
    Partial {
        /// Index of the partial among the merge inputs.
        index: usize,
        /// The postcard error.
        source: postcard::Error,
    },
}
