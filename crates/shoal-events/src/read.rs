//! Worker side: read one split into an [`EventSink`].

use crate::error::InputError;
use crate::event::EventSink;
use crate::options::ReadOptions;
use crate::split::{Split, SplitStats};

/// Worker side: reads one split, calling `sink.accept` for every good row
/// in file order. Bad rows are counted (the first few kept with file:line
/// and reason); with `opts.strict` the first bad row is an
/// [`InputError::BadRow`].
pub fn read_split(
    split: &Split,
    opts: &ReadOptions,
    sink: &mut dyn EventSink,
) -> Result<SplitStats, InputError> {
    let _ = (split, opts, sink);
    unimplemented!()
}
