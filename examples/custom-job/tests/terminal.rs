//! Never raw bytes on a terminal: a job with binary output run with stdout
//! on a terminal (a pseudo-terminal from `script(1)`) and no `--out` is
//! refused in one line with exit code 2; to a file or a pipe it is fine.

use std::process::Command;

/// Another build of custom-job that has `raw-bytes` (see its source).
const WITH_RAW_BYTES: &str = env!("CARGO_BIN_EXE_custom-job-v2");

/// `args` in single quotes for `sh -c`.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn binary_output_to_a_terminal_is_one_line_exit_2() {
    let command = shell_words(&[WITH_RAW_BYTES, "run", "raw-bytes", "--quiet"]);
    // script runs the command on a new pseudo-terminal (stdout and stderr
    // both), copies what it prints to our stdout and exits with its code.
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .output()
        .expect("script(1) from util-linux must be installed");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    let lines: Vec<&str> = shown.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines.len(), 1, "{shown:?}");
    assert!(
        lines[0].starts_with("custom-job-v2: error: job 'raw-bytes' writes binary output")
            && lines[0].contains("--out FILE"),
        "{shown}"
    );
}

#[test]
fn binary_output_goes_to_out_or_a_pipe() {
    let all: Vec<u8> = (0..=255).collect();
    let piped = Command::new(WITH_RAW_BYTES)
        .args(["run", "raw-bytes", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{piped:?}");
    assert_eq!(piped.stdout, all);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bytes.bin");
    let command = shell_words(&[
        WITH_RAW_BYTES,
        "run",
        "raw-bytes",
        "--quiet",
        "--out",
        file.to_str().unwrap(),
    ]);
    let on_terminal = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(on_terminal.status.code(), Some(0), "{on_terminal:?}");
    assert!(on_terminal.stdout.is_empty(), "{on_terminal:?}");
    assert_eq!(std::fs::read(&file).unwrap(), all);
}
