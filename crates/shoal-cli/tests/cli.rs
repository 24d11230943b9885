//! The `shoal` binary as a user runs it: exit codes, one-line errors, output.

use std::process::{Command, Output};

fn shoal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .output()
        .expect("run shoal")
}

/// Exit code 2 and exactly one line on stderr, with no panic or backtrace.
fn assert_usage_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("shoal: error: "), "{stderr}");
    assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_one_line_exit_2() {
    assert_usage_error(&shoal(&["--bogus"]), "--bogus");
    assert_usage_error(&shoal(&["wordcount"]), "<FILES>");
    assert_usage_error(&shoal(&["wordcount", "x", "--threads", "0"]), "--threads");
    assert_usage_error(
        &shoal(&["wordcount", "x", "--memory-budget", "lots"]),
        "lots",
    );
    assert_usage_error(&shoal(&["no-such-command"]), "no-such-command");
}

#[test]
fn missing_input_is_one_line_exit_2() {
    assert_usage_error(
        &shoal(&["wordcount", "--quiet", "/no/such/input.txt"]),
        "/no/such/input.txt",
    );
}

#[test]
fn a_malformed_rust_log_is_one_line_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("jobs")
        .env("RUST_LOG", "shoal=loud")
        .output()
        .expect("run shoal");
    assert_usage_error(&out, "RUST_LOG=\"shoal=loud\"");
    assert!(out.stdout.is_empty(), "the command ran anyway");
}

#[test]
fn help_and_version_succeed() {
    let help = shoal(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("wordcount"), "{text}");
    // Speaks to users, not of crates and libraries.
    assert!(text.starts_with("Shoal: split big data work"), "{text}");
    let version = shoal(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("shoal "));
}

#[test]
fn jobs_lists_registered_jobs() {
    let out = shoal(&["jobs"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("wordcount@1 ")),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("noop@1 ")), "{stdout}");
}

#[test]
fn wordcount_output_does_not_depend_on_threads_or_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.txt");
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(["tide ", "Reef ", "fish ", "école\n"][i % 4]);
        if i % 3 == 0 {
            text.push_str("fish ");
        }
    }
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let run = |threads: &str, partitions: &str| {
        let out = shoal(&[
            "wordcount",
            path,
            "--top",
            "3",
            "--quiet",
            "--json",
            "--threads",
            threads,
            "--partitions",
            partitions,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let expected = run("1", "1");
    assert_eq!(
        String::from_utf8_lossy(&expected).trim(),
        r#"{"words":4000,"distinct":4,"top":[["fish",1750],["reef",750],["tide",750]]}"#
    );
    for (threads, partitions) in [("2", "7"), ("8", "64")] {
        assert_eq!(run(threads, partitions), expected);
    }
}

/// A job's result alone on stdout (or in --out); its statistics on stderr
/// and in --stats FILE; --quiet silences stderr.
#[test]
fn run_prints_only_the_result_and_statistics_go_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let stats_path = dir.path().join("stats.json");
    let params = r#"{"tasks": 5, "echo": true}"#;
    let stats_arg = stats_path.to_str().unwrap();
    let out = shoal(&[
        "run",
        "noop",
        "--params",
        params,
        "--threads",
        "2",
        "--stats",
        stats_arg,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"echoed\":10,\"tasks\":5}\n"
    );
    assert!(
        stderr.contains("shoal: noop-") && stderr.contains(" done in "),
        "{stderr}"
    );
    assert!(stderr.contains("stage 0 (noop): 5 tasks in "), "{stderr}");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    assert_eq!(stats["job"], "noop");
    assert_eq!(stats["tasks"], 5);
    assert_eq!(stats["attempts"], 5);
    assert_eq!(stats["stages"][0]["name"], "noop");
    assert!(stats["wall_seconds"].as_f64().unwrap() > 0.0, "{stats}");

    let result_path = dir.path().join("result.json");
    let result_arg = result_path.to_str().unwrap();
    let quiet = shoal(&[
        "run", "noop", "--params", params, "--quiet", "--out", result_arg,
    ]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "{quiet:?}"
    );
    assert_eq!(std::fs::read(&result_path).unwrap(), out.stdout);
}

#[test]
fn run_of_an_unknown_job_is_one_line_exit_2() {
    assert_usage_error(&shoal(&["run", "no-such-job"]), "unknown job 'no-such-job'");
}
