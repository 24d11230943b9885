//! What the read tasks reported besides rows, put together in the merge:
//! the first rejected rows with exact file lines, and whether a chunk's
//! guessed CSV quote state proved wrong — then the report is not the
//! input's, and the driver runs the job again with every state known
//! ([`AnalyzeJob`](crate::job::AnalyzeJob)'s `review`).

use shoal_events::{place_chunks, InputError, Split};

use crate::partial::REJECT_SAMPLES;
use crate::record::{ReadStats, RejectSample};

/// The read stage's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadsOutcome {
    /// The first rejected rows overall, in input order, with file lines.
    pub samples: Vec<RejectSample>,
    /// When a guess proved wrong: the quote state at every split's start.
    pub quote_states: Option<Vec<bool>>,
}

/// Places the splits of the read stage (`reads` by split, as reported)
/// and names the first rejected rows by file line.
pub fn settle_reads(splits: &[Split], reads: &[ReadStats]) -> Result<ReadsOutcome, InputError> {
    let mut summaries = vec![None; splits.len()];
    for read in reads {
        if let Some(slot) = summaries.get_mut(read.split as usize) {
            *slot = read.chunk;
        }
    }
    let placed = place_chunks(splits, &summaries)?;
    let samples = reads
        .iter()
        .flat_map(|read| {
            let offset = placed
                .line_offsets
                .get(read.split as usize)
                .copied()
                .unwrap_or(0);
            read.rejects.iter().map(move |r| RejectSample {
                location: format!("{}:{}", r.file, r.line + offset),
                reason: r.reason.clone(),
            })
        })
        .take(REJECT_SAMPLES)
        .collect();
    Ok(ReadsOutcome {
        samples,
        quote_states: placed.misguessed.then_some(placed.in_quotes),
    })
}
