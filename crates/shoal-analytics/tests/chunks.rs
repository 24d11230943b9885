//! The `analyze` job on text files cut into chunks at byte offsets: the
//! same report and the same file lines in rejections as one chunk per
//! file, and a chunk that guessed its CSV quote state wrong makes the job
//! run once more instead of counting rows that are not the file's.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use shoal_analytics::job::{AnalyzeJob, AnalyzeOutput, AnalyzeParams};
use shoal_core::{
    run_job, EmbeddedConfig, EmbeddedExecutor, JobError, JobSpec, ProgressEvent, ProgressSink,
    Registry,
};
use shoal_events::ReadOptions;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

/// Counts how often the read stage started.
#[derive(Default)]
struct ReadStarts(AtomicU32);

impl ProgressSink for ReadStarts {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::StageStarted { name: "read", .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs analyze on `input` cut into chunks of about `split_bytes`;
/// returns the output and how often the read stage ran.
fn run(
    input: &Path,
    split_bytes: u64,
    read: ReadOptions,
) -> Result<(AnalyzeOutput, u32), JobError> {
    let params = AnalyzeParams {
        inputs: vec![input.display().to_string()],
        read,
        split_bytes: Some(split_bytes),
        ..Default::default()
    };
    let executor = EmbeddedExecutor::new(EmbeddedConfig {
        threads: 2,
        ..Default::default()
    });
    let registry = Registry::new().with(Arc::new(AnalyzeJob));
    let spec = JobSpec::new("analyze", serde_json::to_value(params).unwrap());
    let starts = ReadStarts::default();
    let out = run_job(&executor, &registry, spec, &starts)?;
    let output = AnalyzeOutput::from_bytes(&out.results[0]).unwrap();
    Ok((output, starts.0.load(Ordering::Relaxed)))
}

/// Rows with quoted commas and newlines, bad rows (spanning two lines)
/// where `bad_row` says, and the file lines of the bad rows.
fn quoted_csv(rows: usize, bad_row: impl Fn(usize) -> bool) -> (String, Vec<u64>) {
    let mut text = String::from("user_id,ts,event,item\n");
    let mut bad = Vec::new();
    let mut line = 2;
    for n in 0..rows {
        let ts = T0 + (n as i64 % 500) * 60_000;
        if bad_row(n) {
            text.push_str(&format!("\"u{}\",\"later,\nmaybe\",view,x\n", n % 13));
            bad.push(line);
            line += 2;
        } else {
            let event = ["view", "cart", "purchase"][n % 3];
            text.push_str(&format!(
                "\"u{}\",{ts},{event},\"it, \"\"{}\"\"\"\n",
                n % 13,
                n % 7
            ));
            line += 1;
        }
    }
    (text, bad)
}

#[test]
fn chunks_give_the_report_and_file_lines_of_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.csv");
    let (text, bad) = quoted_csv(600, |n| n % 41 == 7);
    std::fs::write(&path, text).unwrap();
    let (whole, _) = run(&path, u64::MAX, ReadOptions::default()).unwrap();
    assert_eq!(whole.report.rejected, bad.len() as u64);
    let lines: Vec<String> = bad
        .iter()
        .take(10)
        .map(|l| format!("{}:{l}", path.display()))
        .collect();
    let locations = |out: &AnalyzeOutput| -> Vec<String> {
        out.rejects.iter().map(|r| r.location.clone()).collect()
    };
    assert_eq!(locations(&whole), lines);
    for split_bytes in [97, 1000, 4096] {
        let (chunked, read_runs) = run(&path, split_bytes, ReadOptions::default()).unwrap();
        assert_eq!(
            chunked.report.to_json(),
            whole.report.to_json(),
            "{split_bytes}"
        );
        assert_eq!(locations(&chunked), lines, "{split_bytes}");
        assert_eq!(read_runs, 1, "every guess holds in fully quoted CSV");
    }
}

#[test]
fn a_wrong_quote_guess_runs_the_job_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.csv");
    // A quoted item of plain lines: chunks starting inside it see no
    // decisive quote and guess wrong; read as rows, its lines would count.
    let inner: String = (0..300).map(|i| format!("u{i},{T0},view,x\n")).collect();
    let text =
        format!("user_id,ts,event,item\nu1,{T0},view,\"{inner}\"\nu2,{T0},cart,a\nu3,x,view,b\n");
    std::fs::write(&path, text).unwrap();
    let (whole, _) = run(&path, u64::MAX, ReadOptions::default()).unwrap();
    assert_eq!(whole.report.events, 2);
    let (chunked, read_runs) = run(&path, 500, ReadOptions::default()).unwrap();
    assert_eq!(read_runs, 2);
    assert_eq!(chunked.report.to_json(), whole.report.to_json());
    assert_eq!(chunked.rejects, whole.rejects);
    assert!(chunked.quote_states.is_none());
}

#[test]
fn strict_mode_names_the_file_line_from_a_late_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    let (text, bad) = quoted_csv(300, |n| n == 250);
    std::fs::write(&path, text).unwrap();
    let strict = ReadOptions {
        strict: true,
        ..Default::default()
    };
    // The bad row lies in the last of several chunks: the error names a
    // file line that chunk could not have counted itself.
    let err = run(&path, 2000, strict).unwrap_err();
    let message = err.user_message();
    assert!(err.is_user_input(), "{message}");
    assert!(message.contains(&format!("s.csv:{}:", bad[0])), "{message}");
}
