//! `wordcount` end to end on the embedded executor.

use std::sync::Arc;

use serde_json::json;
use shoal_core::{run_job, EmbeddedConfig, EmbeddedExecutor, JobSpec, NoProgress, Registry};
use shoal_jobs::{WordCount, WordCountResult};

fn corpus(dir: &std::path::Path) -> Vec<String> {
    let words = [
        "the", "Shoal", "fish", "swim", "école", "42", "tide", "reef",
    ];
    let mut files = Vec::new();
    for f in 0..5 {
        let mut text = String::new();
        for i in 0..4000 {
            let w = words[(i * 7 + f * 3 + i / 13) % words.len()];
            text.push_str(w);
            text.push(if i % 11 == 0 { '\n' } else { ' ' });
        }
        let path = dir.join(format!("part-{f}.txt"));
        std::fs::write(&path, text).unwrap();
        files.push(path.display().to_string());
    }
    files
}

fn wordcount(
    inputs: &[String],
    threads: usize,
    partitions: u32,
    split_bytes: u64,
    budget: u64,
) -> Vec<u8> {
    let registry = Registry::new().with(Arc::new(WordCount));
    let exec = EmbeddedExecutor::new(EmbeddedConfig {
        threads,
        memory_budget: budget,
        ..EmbeddedConfig::default()
    });
    let spec = JobSpec::new(
        "wordcount",
        json!({"inputs": inputs, "top": 5, "partitions": partitions, "split_bytes": split_bytes}),
    );
    run_job(&exec, &registry, spec, &NoProgress)
        .unwrap()
        .results[0]
        .to_vec()
}

#[test]
fn output_is_byte_identical_across_threads_partitions_splits_and_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = corpus(dir.path());
    let expected = wordcount(&inputs, 1, 1, 1 << 30, u64::MAX);
    let result: WordCountResult = serde_json::from_slice(&expected).unwrap();
    assert_eq!(result.words, 20_000);
    assert_eq!(result.distinct, 8);
    assert_eq!(result.top.len(), 5);
    for threads in [1, 2, 8] {
        for partitions in [1, 7, 64] {
            let got = wordcount(&inputs, threads, partitions, 997, u64::MAX);
            assert_eq!(got, expected, "threads={threads} partitions={partitions}");
        }
    }
    assert_eq!(wordcount(&inputs, 2, 7, 997, 64), expected, "with spilling");
}

#[test]
fn missing_input_is_a_user_error_naming_the_path() {
    let registry = Registry::new().with(Arc::new(WordCount));
    let exec = EmbeddedExecutor::new(EmbeddedConfig::default());
    let spec = JobSpec::new(
        "wordcount",
        json!({"inputs": ["/nope/missing.txt"], "top": 5, "partitions": 2}),
    );
    let err = run_job(&exec, &registry, spec, &NoProgress).unwrap_err();
    assert!(err.is_user_input());
    assert!(err.to_string().contains("/nope/missing.txt"), "{err}");
}
