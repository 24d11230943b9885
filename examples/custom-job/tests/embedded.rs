//! `custom-job` as a user runs it on one machine: results on stdout and
//! nothing else, rejected rows and statistics on stderr, user mistakes as
//! one line with exit code 2.

use std::path::Path;
use std::process::{Command, Output};

use shoal::Session;

const CUSTOM_JOB: &str = env!("CARGO_BIN_EXE_custom-job");

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("run the binary")
}

fn stdout_of(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Two CSV files with a header; the value column holds integers, floats,
/// a word, an empty field and a short row.
fn sales(dir: &Path) -> String {
    let input = dir.join("sales");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("a.csv"),
        "region,amount,note\neast,2,x\nwest,1.5,y\neast,30,z\nwest,oops,w\neast,10,v\n\"n,orth\",-4,u\nwest\n",
    )
    .unwrap();
    std::fs::write(input.join("b.csv"), "amount,region\n7,west\n,east\n").unwrap();
    input.to_string_lossy().into_owned()
}

const SALES_STATS: &str = concat!(
    r#"{"rows":6,"rejected":3,"keys":{"east":{"count":3,"sum":42,"min":2,"max":30},"#,
    r#""n,orth":{"count":1,"sum":-4,"min":-4,"max":-4},"#,
    r#""west":{"count":2,"sum":8.5,"min":1.5,"max":7}}}"#,
    "\n"
);

fn column_stats_params(input: &str, partitions: u32) -> String {
    format!(
        r#"{{"inputs": ["{input}"], "key": "region", "value": "amount", "partitions": {partitions}}}"#
    )
}

#[test]
fn column_stats_gives_per_key_numbers_whatever_the_threads_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let input = sales(dir.path());
    for (threads, partitions) in [("1", 1), ("2", 8), ("4", 3)] {
        let params = column_stats_params(&input, partitions);
        let out = run(
            CUSTOM_JOB,
            &[
                "run",
                "column-stats",
                "--params",
                &params,
                "--threads",
                threads,
            ],
        );
        assert_eq!(
            stdout_of(&out),
            SALES_STATS,
            "threads {threads}, partitions {partitions}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let a = Path::new(&input).join("a.csv");
        for line in [
            format!(
                "custom-job: rejected {}:5: value 'oops' is not a number",
                a.display()
            ),
            format!(
                "custom-job: rejected {}:8: 1 field, the header has 3",
                a.display()
            ),
            "custom-job: 3 bad rows skipped".to_string(),
        ] {
            assert!(
                stderr.lines().any(|l| l.starts_with(&line)),
                "no {line:?} in {stderr}"
            );
        }
    }
}

#[test]
fn a_column_that_is_not_in_a_header_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = sales(dir.path());
    let params = format!(r#"{{"inputs": ["{input}"], "key": "regio", "value": "amount"}}"#);
    let out = run(CUSTOM_JOB, &["run", "column-stats", "--params", &params]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("a.csv: no column 'regio'"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn distinct_keys_saves_the_sorted_keys_and_prints_their_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("1.csv"), "user,page\nzoé,a\nbob,b\nzoé,c\n").unwrap();
    std::fs::write(input.join("2.csv"), "page,user\nd,ann\ne,bob\nf,Bob\n").unwrap();
    let saved = dir.path().join("keys").to_string_lossy().into_owned();
    let params = format!(
        r#"{{"inputs": ["{}"], "column": "user", "out": "{saved}"}}"#,
        input.display()
    );
    let out = run(
        CUSTOM_JOB,
        &["run", "distinct-keys", "--params", &params, "--quiet"],
    );
    assert_eq!(stdout_of(&out), "{\"count\":4}\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = Session::embedded()
        .load::<String>(&saved)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(keys, ["Bob", "ann", "bob", "zoé"]);
}

#[test]
fn the_binary_is_shoal_plus_our_jobs() {
    let jobs = stdout_of(&run(CUSTOM_JOB, &["jobs"]));
    // Each job as its fingerprint, name@version: what workers advertise.
    for job in [
        "column-stats@1 ",
        "distinct-keys@1 ",
        "wordcount@1 ",
        "array-sort@1 ",
        "analyze@",
    ] {
        assert!(
            jobs.lines().any(|l| l.starts_with(job)),
            "no {job} in {jobs}"
        );
    }
    let help = stdout_of(&run(CUSTOM_JOB, &["--help"]));
    assert!(help.contains("Usage: custom-job"), "{help}");
    for command in ["worker", "run", "status", "cancel", "lock", "kv", "counter"] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "no {command} in {help}"
        );
    }
    let unknown = run(CUSTOM_JOB, &["run", "nope"]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("custom-job: error: unknown job 'nope'"),
        "{stderr}"
    );
}
