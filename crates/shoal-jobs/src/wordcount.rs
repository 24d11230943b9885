//! The `wordcount` job.
//!
//! ```text
//! read (1 task per split) ──hash(word) shuffle──▶ count (P tasks) ──results──▶ merge (1 task)
//!   tokenise + combine          one bucket per P     sum, local top-N            global top-N
//! ```
//!
//! A word is a maximal run of ASCII letters and digits and non-ASCII bytes
//! (so UTF-8 letters stay inside words), lowercased in ASCII. Ties in the
//! top list are broken by word, ascending, so output never depends on
//! threads, partitions or splits.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shoal_core::route::partition_of;
use shoal_core::{
    Bytes, Job, JobError, OutputFormat, Plan, Stage, StageRef, TaskContext, TaskError,
};
use shoal_store::inputs::{plan_line_splits, read_line_split, LineSplit};

/// Parameters of `wordcount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordCountParams {
    /// Files or directories to read.
    pub inputs: Vec<String>,
    /// How many words to report.
    pub top: usize,
    /// Partitions of the count stage.
    pub partitions: u32,
    /// Target bytes per read split.
    #[serde(default = "default_split_bytes")]
    pub split_bytes: u64,
    /// Filled in by `prepare`: the splits every node reads.
    #[serde(default)]
    pub splits: Vec<LineSplit>,
}

fn default_split_bytes() -> u64 {
    32 << 20
}

/// What `wordcount` returns (as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCountResult {
    /// Words read.
    pub words: u64,
    /// Distinct words.
    pub distinct: u64,
    /// The most frequent words, most frequent first, ties by word.
    pub top: Vec<(String, u64)>,
}

/// Counts words in text files and reports the top N.
#[derive(Debug, Default, Clone, Copy)]
pub struct WordCount;

fn params_of(params: &serde_json::Value) -> Result<WordCountParams, JobError> {
    serde_json::from_value(params.clone())
        .map_err(|e| JobError::invalid_input("wordcount", format!("bad parameters: {e}")))
}

impl Job for WordCount {
    fn name(&self) -> &'static str {
        "wordcount"
    }

    fn describe(&self) -> &'static str {
        "count words in text files and report the most frequent"
    }

    /// One JSON object ([`WordCountResult`]) and a newline.
    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    fn prepare(&self, params: serde_json::Value) -> Result<serde_json::Value, JobError> {
        let mut params = params_of(&params)?;
        if params.inputs.is_empty() {
            return Err(JobError::invalid_input("wordcount", "no input files given"));
        }
        if params.partitions == 0 {
            return Err(JobError::invalid_input(
                "wordcount",
                "--partitions must be at least 1",
            ));
        }
        params.splits = plan_line_splits(&params.inputs, params.split_bytes)
            .map_err(|e| JobError::invalid_input("wordcount", e))?;
        serde_json::to_value(params).map_err(|e| JobError::Setup {
            job: "wordcount".into(),
            message: e.to_string(),
        })
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let WordCountParams {
            splits,
            partitions,
            top,
            ..
        } = params_of(params)?;
        let mut plan = Plan::new();
        let read = plan.add_stage(
            Stage::new("read", splits.len() as u32, move |ctx| {
                read_task(ctx, &splits[ctx.partition() as usize])
            })
            .shuffle_output(partitions),
        );
        let count = plan.add_stage(
            Stage::new("count", partitions, move |ctx| count_task(ctx, read, top)).reads(read),
        );
        plan.add_stage(Stage::new("merge", 1, move |ctx| merge_task(ctx, count, top)).reads(count));
        Ok(plan)
    }
}

fn tokenize(line: &[u8], mut word: impl FnMut(&[u8])) {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (is_word(b), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                word(&line[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        word(&line[s..]);
    }
}

fn read_task(ctx: &mut TaskContext<'_>, split: &LineSplit) -> Result<(), TaskError> {
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut lines = 0u64;
    let bytes = read_line_split(split, |line| {
        lines += 1;
        tokenize(line, |word| {
            let lower = word.to_ascii_lowercase();
            *counts.entry(lower).or_insert(0) += 1;
        });
    })
    .map_err(|e| TaskError::caused_by(format!("reading {}", split.path), e))?;
    let buckets = ctx.buckets();
    let partitions = buckets.len() as u32;
    for (word, count) in counts {
        let out = &mut buckets[partition_of(&word, partitions) as usize];
        out.extend_from_slice(&(word.len() as u32).to_le_bytes());
        out.extend_from_slice(&word);
        out.extend_from_slice(&count.to_le_bytes());
    }
    ctx.add_progress(lines, bytes);
    Ok(())
}

fn decode(block: &[u8], mut pair: impl FnMut(&[u8], u64)) -> Result<(), TaskError> {
    let corrupt = || TaskError::fatal("corrupt wordcount shuffle block");
    let mut rest = block;
    while !rest.is_empty() {
        let len =
            u32::from_le_bytes(rest.get(..4).ok_or_else(corrupt)?.try_into().unwrap()) as usize;
        let word = rest.get(4..4 + len).ok_or_else(corrupt)?;
        let count = rest.get(4 + len..12 + len).ok_or_else(corrupt)?;
        pair(word, u64::from_le_bytes(count.try_into().unwrap()));
        rest = &rest[12 + len..];
    }
    Ok(())
}

/// Most frequent first, ties by word ascending; keeps `top`.
fn top_n(mut words: Vec<(String, u64)>, top: usize) -> Vec<(String, u64)> {
    words.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    words.truncate(top);
    words
}

fn to_blob(result: &WordCountResult) -> Result<Bytes, TaskError> {
    serde_json::to_vec(result)
        .map(Bytes::from)
        .map_err(|e| TaskError::fatal(format!("encoding result: {e}")))
}

fn count_task(ctx: &mut TaskContext<'_>, read: StageRef, top: usize) -> Result<(), TaskError> {
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    // One map task's block at a time: the partition is never all in memory.
    for block in ctx.shuffle_input(read)?.iter_bytes() {
        decode(&block?, |word, count| match counts.get_mut(word) {
            Some(total) => *total += count,
            None => {
                counts.insert(word.to_vec(), count);
            }
        })?;
    }
    let result = WordCountResult {
        words: counts.values().sum(),
        distinct: counts.len() as u64,
        top: top_n(
            counts
                .into_iter()
                .map(|(w, c)| (String::from_utf8_lossy(&w).into_owned(), c))
                .collect(),
            top,
        ),
    };
    ctx.set_result(to_blob(&result)?);
    Ok(())
}

fn merge_task(ctx: &mut TaskContext<'_>, count: StageRef, top: usize) -> Result<(), TaskError> {
    let mut total = WordCountResult::default();
    let mut candidates = Vec::new();
    for blob in ctx.results_of(count)? {
        let part: WordCountResult = serde_json::from_slice(&blob)
            .map_err(|e| TaskError::fatal(format!("corrupt partial result: {e}")))?;
        total.words += part.words;
        total.distinct += part.distinct;
        candidates.extend(part.top);
    }
    total.top = top_n(candidates, top);
    ctx.set_result(to_blob(&total)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_runs_of_letters_digits_and_utf8() {
        let mut words = Vec::new();
        tokenize("Héllo, world! 42 times—x".as_bytes(), |w| {
            words.push(String::from_utf8_lossy(w).into_owned())
        });
        assert_eq!(words, ["Héllo", "world", "42", "times—x"]);
    }

    #[test]
    fn top_n_breaks_ties_by_word() {
        let words = vec![
            ("b".into(), 2),
            ("a".into(), 2),
            ("c".into(), 5),
            ("d".into(), 1),
        ];
        let top = top_n(words, 3);
        assert_eq!(top, vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]);
    }
}
