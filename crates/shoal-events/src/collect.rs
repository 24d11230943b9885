//! Per-split bookkeeping shared by the format readers: hands accepted rows
//! to the sink, counts rejected ones and turns them into errors in strict
//! mode.

use crate::error::InputError;
use crate::event::{Event, EventSink};
use crate::options::TsUnit;
use crate::split::{Rejection, SplitStats, MAX_KEPT_REJECTIONS};
use crate::ts::parse_ts_ms;

/// Longest excerpt of a bad value quoted in a rejection reason.
const MAX_QUOTED: usize = 40;

/// Accepts or rejects rows for one split.
pub(crate) struct Collector<'s> {
    sink: &'s mut dyn EventSink,
    file: String,
    strict: bool,
    pub(crate) unit: TsUnit,
    pub(crate) stats: SplitStats,
}

impl<'s> Collector<'s> {
    pub(crate) fn new(
        sink: &'s mut dyn EventSink,
        file: String,
        strict: bool,
        unit: TsUnit,
    ) -> Self {
        Collector {
            sink,
            file,
            strict,
            unit,
            stats: SplitStats::default(),
        }
    }

    /// Validates the role fields of one row and accepts or rejects it.
    /// `ts` is the raw text; user_id must be non-empty.
    #[inline]
    pub(crate) fn row(
        &mut self,
        line: u64,
        user_id: &str,
        ts: &str,
        event: &str,
        item: &str,
    ) -> Result<(), InputError> {
        if user_id.is_empty() {
            return self.reject(line, "empty user_id".to_string());
        }
        match parse_ts_ms(ts, self.unit) {
            Some(ts_ms) => {
                self.accept(&Event {
                    user_id,
                    ts_ms,
                    event,
                    item,
                });
                Ok(())
            }
            None => self.reject(line, format!("unparsable ts `{}`", excerpt(ts))),
        }
    }

    /// Hands one good row to the sink.
    #[inline]
    pub(crate) fn accept(&mut self, event: &Event<'_>) {
        self.stats.accepted += 1;
        self.sink.accept(event);
    }

    /// Counts a bad row; in strict mode returns it as an error.
    pub(crate) fn reject(&mut self, line: u64, reason: String) -> Result<(), InputError> {
        if self.strict {
            return Err(InputError::BadRow {
                file: self.file.clone(),
                line,
                reason,
            });
        }
        self.stats.rejected += 1;
        if self.stats.rejects.len() < MAX_KEPT_REJECTIONS {
            self.stats.rejects.push(Rejection {
                file: self.file.clone(),
                line,
                reason,
            });
        }
        Ok(())
    }
}

/// A value cut to a readable length for messages.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
