//! After the fact: where each chunk split lay in its file, once every
//! chunk was read.
//!
//! A chunk's reader cannot know the line or the CSV quote state at its
//! first byte without reading everything before it, which is what chunked
//! planning avoids. It counts its own bytes instead ([`ChunkSummary`]);
//! added up in file order, the counts give each chunk's first line (so
//! rejections name exact file lines) and its true quote state (so a wrong
//! guess is found, never trusted).

use std::path::Path;

use crate::error::InputError;
use crate::split::{ChunkSummary, Split, SplitRange};

/// Where the chunk splits of one reading lay ([`place_chunks`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkPlacement {
    /// Per split, what to add to the lines of its rejections: the line
    /// holding a chunk's first byte; 0 for other splits, whose lines are
    /// file lines already.
    pub line_offsets: Vec<u64>,
    /// Per split, whether its first byte lies inside a quoted CSV field
    /// (false for other splits).
    pub in_quotes: Vec<bool>,
    /// Whether some reader guessed its quote state wrong. Its rows are then
    /// not the file's: read the splits again after
    /// [`settle_quote_states`], which makes every state known.
    pub misguessed: bool,
}

/// Places `splits` (in planning order) given what reading each produced:
/// `summaries[i]` is [`SplitStats::chunk`](crate::SplitStats) of split
/// `i`. Fails when a chunk has no summary or does not follow its file's
/// previous chunk, or when a known quote state proves wrong (the file
/// changed since planning).
pub fn place_chunks(
    splits: &[Split],
    summaries: &[Option<ChunkSummary>],
) -> Result<ChunkPlacement, InputError> {
    let mut placed = ChunkPlacement::default();
    // The previous chunk's file and end, and the line and quote state there.
    let mut after: Option<(&Path, u64, u64, bool)> = None;
    for (i, split) in splits.iter().enumerate() {
        let SplitRange::Chunk {
            start,
            end,
            line,
            in_quotes,
            ..
        } = split.range
        else {
            placed.line_offsets.push(0);
            placed.in_quotes.push(false);
            after = None;
            continue;
        };
        let stale = |what: &str| InputError::StaleSplit {
            path: split.path.clone(),
            what: format!("chunk {start}..{end}: {what}"),
        };
        let summary = summaries
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| stale("read without its line count"))?;
        let (line_here, quoted_here) = match (line, after) {
            (Some(line), _) => (line, false),
            (None, Some((path, prev_end, line, quoted)))
                if path == split.path && prev_end == start =>
            {
                (line, quoted)
            }
            (None, _) => return Err(stale("does not follow its file's previous chunk")),
        };
        if in_quotes.is_some_and(|known| known != quoted_here) {
            return Err(stale(
                "quote state differs from the one planned (the file changed?)",
            ));
        }
        placed.misguessed |= summary.in_quotes != quoted_here;
        placed.line_offsets.push(line_here);
        placed.in_quotes.push(quoted_here);
        after = Some((
            &split.path,
            end,
            line_here + summary.newlines,
            quoted_here ^ summary.odd_quotes,
        ));
    }
    Ok(placed)
}

/// Makes the quote state at every chunk's start known (from
/// [`ChunkPlacement::in_quotes`]), so reading the splits again guesses
/// nothing.
pub fn settle_quote_states(splits: &mut [Split], in_quotes: &[bool]) {
    for (split, &state) in splits.iter_mut().zip(in_quotes) {
        if let SplitRange::Chunk { in_quotes, .. } = &mut split.range {
            *in_quotes = Some(state);
        }
    }
}
