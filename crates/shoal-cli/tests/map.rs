//! `shoal map` embedded, with real `sh` and `python3` programs: Hadoop
//! Streaming's contract, outputs that never depend on threads, reducers
//! or split sizes, failures, retries, timeouts and cancellation with no
//! process left behind, and one-line usage errors.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{part_files, shoal_cmd, wait_for_processes, wait_none_left, SHOAL};
use shoal_testkit::S3Server;

/// Tokenises like `shoal wordcount` (runs of ASCII letters, digits and
/// non-ASCII bytes, ASCII-lowercased) and counts with a reducer that
/// detects key changes itself, as Hadoop Streaming reducers do.
const MAPPER: &str = r#"import re, sys
for line in sys.stdin.buffer:
    for word in re.findall(rb"[A-Za-z0-9\x80-\xff]+", line):
        sys.stdout.buffer.write(word.lower() + b"\t1\n")
"#;
const REDUCER: &str = r#"import sys
current, total = None, 0
for line in sys.stdin.buffer:
    word, count = line.rstrip(b"\n").split(b"\t", 1)
    if word != current:
        if current is not None:
            sys.stdout.buffer.write(current + b"\t" + str(total).encode() + b"\n")
        current, total = word, 0
    total += int(count)
if current is not None:
    sys.stdout.buffer.write(current + b"\t" + str(total).encode() + b"\n")
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        fixture.write("mapper.py", MAPPER);
        fixture.write("reducer.py", REDUCER);
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Deterministic text with skewed words, a UTF-8 word and CRLF lines.
    fn text(&self, name: &str, lines: usize) -> PathBuf {
        let mut text = String::new();
        let mut x: u64 = 42;
        for i in 0..lines {
            for _ in 0..(i % 7 + 1) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let w = (x >> 33) % 200;
                let w = w * w / 200;
                text.push_str(&format!("Word{w} "));
            }
            text.push_str(if i % 50 == 0 {
                "héllo, World!\r\n"
            } else {
                "end\n"
            });
        }
        self.write(name, &text)
    }

    fn shoal(&self, args: &[&str]) -> Output {
        Command::new(SHOAL)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run shoal")
    }

    /// `shoal map` that must succeed, with `--quiet` and a fresh `--out`.
    fn map_ok(&self, out: &str, args: &[&str]) -> Output {
        let mut all = vec!["map", "--quiet", "--out", out];
        all.extend_from_slice(args);
        let output = self.shoal(&all);
        assert!(
            output.status.success(),
            "shoal map {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The part files of `out`, in name order, concatenated.
    fn parts(&self, out: &str) -> String {
        part_files(&self.path(out))
    }
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    lines
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const WORDCOUNT: [&str; 6] = [
    "--mapper",
    "python3 mapper.py",
    "--reducer",
    "python3 reducer.py",
    "--ship",
    "mapper.py",
];

fn wordcount_args<'a>(input: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![input];
    args.extend_from_slice(&WORDCOUNT);
    args.extend_from_slice(&["--ship", "reducer.py"]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn python_word_count_equals_shoal_wordcount() {
    let f = Fixture::new();
    f.text("in/a.txt", 3000);
    f.text("in/b.txt", 1000);
    f.map_ok(
        "out",
        &wordcount_args("in", &["--threads", "2", "--split-size", "8KB"]),
    );
    let mut ours = BTreeMap::new();
    for line in f.parts("out").lines() {
        let (word, count) = line.split_once('\t').unwrap();
        ours.insert(word.to_string(), count.parse::<u64>().unwrap());
    }
    let wordcount = f.shoal(&["wordcount", "in", "--quiet", "--json", "--top", "1000000"]);
    assert!(wordcount.status.success(), "{}", stderr(&wordcount));
    let theirs: serde_json::Value = serde_json::from_slice(&wordcount.stdout).unwrap();
    assert_eq!(theirs["distinct"].as_u64().unwrap(), ours.len() as u64);
    assert_eq!(
        theirs["words"].as_u64().unwrap(),
        ours.values().sum::<u64>()
    );
    for pair in theirs["top"].as_array().unwrap() {
        let (word, count) = (pair[0].as_str().unwrap(), pair[1].as_u64().unwrap());
        assert_eq!(ours.get(word), Some(&count), "{word}");
    }
    assert!(ours.contains_key("héllo"), "UTF-8 words survive");
}

#[test]
fn output_is_identical_across_threads_reducers_and_split_sizes() {
    let f = Fixture::new();
    f.text("in/a.txt", 2000);
    f.text("in/b.txt", 500);
    let reference = {
        f.map_ok(
            "ref",
            &wordcount_args("in", &["--threads", "1", "--reducers", "3"]),
        );
        f.parts("ref")
    };
    assert!(reference.lines().count() > 100);
    for (i, (threads, split)) in [("2", "4KB"), ("4", "9KB"), ("1", "100MB")]
        .iter()
        .enumerate()
    {
        let out = format!("o{i}");
        let args = [
            "--threads",
            threads,
            "--split-size",
            split,
            "--reducers",
            "3",
        ];
        f.map_ok(&out, &wordcount_args("in", &args));
        assert!(
            f.parts(&out) == reference,
            "threads {threads}, split {split}"
        );
    }
    // Other reducer counts partition differently: the same lines.
    for reducers in ["1", "5"] {
        let out = format!("r{reducers}");
        f.map_ok(
            &out,
            &wordcount_args("in", &["--reducers", reducers, "--split-size", "6KB"]),
        );
        assert_eq!(sorted_lines(&f.parts(&out)), sorted_lines(&reference));
    }
    // A memory budget far below the map output: sorted runs spill, and
    // the output stays the same.
    f.map_ok(
        "spilled",
        &wordcount_args(
            "in",
            &[
                "--reducers",
                "3",
                "--memory-budget",
                "64KiB",
                "--stats",
                "s.json",
            ],
        ),
    );
    assert!(f.parts("spilled") == reference, "spilled output differs");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.path("s.json")).unwrap()).unwrap();
    assert!(stats["bytes_spilled"].as_u64().unwrap() > 0, "{stats}");
    // Equal keys keep input order, whatever the splits: an identity
    // reducer sees every value of a key in file order.
    let identity = |out: &str, split: &str| {
        f.map_ok(
            out,
            &[
                "in",
                "--mapper",
                "awk '{print $1 \"\\t\" NR \":\" $0}'",
                "--reducer",
                "cat",
                "--reducers",
                "2",
                "--split-size",
                split,
            ],
        );
        f.parts(out)
    };
    // NR restarts per split, so compare only the key and the line.
    let strip = |text: String| -> String {
        text.lines()
            .map(|l| {
                let (key, rest) = l.split_once('\t').unwrap();
                format!("{key}\t{}\n", rest.split_once(':').unwrap().1)
            })
            .collect()
    };
    assert_eq!(strip(identity("i1", "100MB")), strip(identity("i2", "2KB")));
}

#[test]
fn map_only_grep_and_a_combiner() {
    let f = Fixture::new();
    f.write(
        "in/t.txt",
        &"apple pie\nbanana\napple tart\ncherry\n".repeat(200),
    );
    // grep exits 1 when a split has no match: say that this is fine.
    f.map_ok(
        "grep",
        &[
            "in",
            "--mapper",
            "grep apple || test $? = 1",
            "--split-size",
            "100B",
        ],
    );
    let lines = f.parts("grep");
    assert_eq!(lines.lines().count(), 400);
    assert!(lines.lines().all(|l| l.starts_with("apple")));
    assert!(f.path("grep/_SUCCESS").exists());

    let mut args = wordcount_args(
        "in",
        &[
            "--combiner",
            "python3 reducer.py",
            "--json",
            "--split-size",
            "1KB",
        ],
    );
    args.retain(|a| *a != "--quiet");
    let out = f.map_ok("comb", &args);
    assert_eq!(
        sorted_lines(&f.parts("comb")),
        [
            "apple\t400",
            "banana\t200",
            "cherry\t200",
            "pie\t200",
            "tart\t200"
        ]
    );
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shoal = &outcome["counters"]["shoal"];
    assert_eq!(shoal["map_output_records"], 1200);
    assert_eq!(shoal["combine_input_records"], 1200);
    // The combiner shrank what went through the shuffle.
    let combined = shoal["combine_output_records"].as_u64().unwrap();
    assert!(combined < 1200, "{outcome}");
    assert_eq!(shoal["reduce_input_records"].as_u64().unwrap(), combined);
    assert_eq!(shoal["reduce_output_records"], 5);
}

#[test]
fn per_file_runs_the_program_once_per_file_and_gz_is_decompressed() {
    let f = Fixture::new();
    f.write("in/one.txt", "a\nb\n");
    f.write("in/two.txt", "c\n");
    f.map_ok(
        "pf",
        &[
            "in",
            "--per-file",
            "--mapper",
            "printf '%s\\t%s\\n' \"$(basename {})\" \"$(wc -l < {})\"",
        ],
    );
    assert_eq!(f.parts("pf"), "one.txt\t2\ntwo.txt\t1\n");

    let text = "zip zap\nzip\n".repeat(1000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    std::fs::create_dir_all(f.path("gz")).unwrap();
    std::fs::write(f.path("gz/t.txt.gz"), gz.finish().unwrap()).unwrap();
    f.map_ok("gzout", &wordcount_args("gz", &["--split-size", "100B"]));
    assert_eq!(sorted_lines(&f.parts("gzout")), ["zap\t1000", "zip\t2000"]);
}

#[test]
fn success_is_written_last_and_only_on_success() {
    let f = Fixture::new();
    f.text("in/a.txt", 300);
    f.map_ok(
        "out",
        &wordcount_args("in", &["--reducers", "3", "--split-size", "2KB"]),
    );
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let success = mtime(&f.path("out/_SUCCESS"));
    for part in 0..3 {
        let part = f.path(&format!("out/part-{part:05}"));
        assert!(mtime(&part) <= success, "{} after _SUCCESS", part.display());
    }
    let failed = f.shoal(&[
        "map",
        "in",
        "--quiet",
        "--out",
        "bad",
        "--mapper",
        "exit 5",
        "--max-attempts",
        "1",
    ]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(!f.path("bad/_SUCCESS").exists());
}

#[test]
fn a_failing_mapper_fails_the_job_naming_partition_status_and_stderr() {
    let f = Fixture::new();
    f.write(
        "in/t.txt",
        &(0..100).map(|i| format!("line {i}\n")).collect::<String>(),
    );
    let script = "while read l; do echo \"saw $l\" >&2; \
                  if [ \"$l\" = 'line 70' ]; then echo 'bad line!' >&2; exit 3; fi; \
                  printf '%s\\t1\\n' \"$l\"; done";
    let out = f.shoal(&[
        "map",
        "in",
        "--quiet",
        "--out",
        "o",
        "--mapper",
        script,
        "--reducer",
        "cat",
        "--split-size",
        "200B",
        "--max-attempts",
        "2",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stage 0 (map), partition "), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
    assert!(
        err.contains("| saw line 70\n") && err.contains("| bad line!"),
        "{err}"
    );
    assert!(err.contains("after 2 attempts"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_mapper_failing_only_on_its_first_attempt_succeeds_and_counts_once() {
    let f = Fixture::new();
    f.write("in/t.txt", &"x y\n".repeat(1000));
    let script = "while read l; do echo reporter:counter:test,lines,1 >&2; printf '%s\\t1\\n' \"$l\"; done; \
                  if [ \"$SHOAL_ATTEMPT\" = 0 ]; then exit 9; fi";
    for reduce in [false, true] {
        let out = format!("o{reduce}");
        let mut args = vec!["in", "--json", "--mapper", script, "--split-size", "1KB"];
        if reduce {
            args.extend_from_slice(&["--reducer", "cat", "--reducers", "2"]);
        }
        let output = f.map_ok(&out, &args);
        let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(outcome["counters"]["test"]["lines"], 1000, "{outcome}");
        assert_eq!(
            outcome["counters"]["shoal"]["map_input_records"], 1000,
            "{outcome}"
        );
        assert_eq!(f.parts(&out).lines().count(), 1000);
    }
}

#[test]
fn a_hanging_mapper_is_killed_at_the_task_timeout() {
    let f = Fixture::new();
    f.write("in/t.txt", "a\n");
    let marker = format!("{}.4711", std::process::id());
    let mapper = format!("sleep {marker}");
    let started = Instant::now();
    let out = f.shoal(&[
        "map",
        "in",
        "--quiet",
        "--out",
        "o",
        "--mapper",
        &mapper,
        "--task-timeout",
        "1s",
        "--max-attempts",
        "1",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ran past the task timeout (1s) and was killed"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    wait_none_left(&marker, Duration::from_secs(5), "no sleep left");
}

#[test]
fn ctrl_c_cancels_the_job_and_leaves_no_process() {
    let f = Fixture::new();
    f.write("in/t.txt", "a\nb\n");
    let marker = format!("{}.4712", std::process::id());
    let mapper = format!("sleep {marker} & sleep {marker}");
    let mut child = Command::new(SHOAL)
        .args([
            "map",
            "in",
            "--quiet",
            "--out",
            "o",
            "--mapper",
            &mapper,
            "--split-size",
            "2B",
        ])
        .current_dir(f.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_processes(&marker, 2, "the mappers to start");
    shoal_testkit::signal(child.id(), "-INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    wait_none_left(&marker, Duration::from_secs(5), "no mapper left");
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    let f = Fixture::new();
    f.write("in/t.txt", "a\n");
    f.write("full/part-00000", "old\n");
    f.write("pq/t.parquet", "PAR1");
    let cases: [(&[&str], &str); 7] = [
        (
            &["map", "pq", "--out", "o", "--mapper", "cat"],
            "t.parquet: Parquet inputs are not supported",
        ),
        (&["map", "in", "--out", "o"], "--mapper"),
        (
            &["map", "nope", "--out", "o", "--mapper", "cat"],
            "nope: no such file or directory",
        ),
        (
            &["map", "in", "--out", "full", "--mapper", "cat"],
            "--out full is not empty",
        ),
        (
            &[
                "map",
                "in",
                "--out",
                "o",
                "--mapper",
                "cat",
                "--ship",
                "missing.py",
            ],
            "--ship missing.py",
        ),
        (
            &[
                "map",
                "in",
                "--out",
                "o",
                "--mapper",
                "cat",
                "--combiner",
                "cat",
            ],
            "--combiner needs a reducer",
        ),
        (
            &["map", "in", "--out", "o", "--mapper", "cat", "--per-file"],
            "--per-file needs `{}`",
        ),
    ];
    for (args, needle) in cases {
        let out = f.shoal(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(f.path("full/part-00000")).unwrap(),
        "old\n"
    );
    f.map_ok("full", &["in", "--mapper", "cat", "--overwrite"]);
    assert_eq!(f.parts("full"), "a\n");
}

#[test]
fn store_inputs_and_outputs_stream_lines_and_per_file_fetches_the_files() {
    let f = Fixture::new();
    let server = S3Server::start();
    server.create_bucket("data");
    let input = server.root().join("data/in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("one.txt"), "a b\nb\n").unwrap();
    std::fs::write(input.join("two.txt"), "c\n").unwrap();
    let run = |args: &[&str]| {
        let output = shoal_cmd(args, &server.env())
            .current_dir(f.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    };
    let parts = |out: &str| -> String {
        let dir = server.root().join("data").join(out);
        assert!(dir.join("_SUCCESS").exists(), "no _SUCCESS in {out}");
        part_files(&dir)
    };
    let mut args = vec!["map", "--quiet", "--out", "s3://data/wc"];
    args.extend(wordcount_args("s3://data/in/", &["--reducers", "2"]));
    run(&args);
    assert_eq!(sorted_lines(&parts("wc")), ["a\t1", "b\t2", "c\t1"]);

    // {} is a local copy in the task directory, the working directory.
    let mapper = "[ \"$(cd \"$(dirname {})\" && pwd -P)\" = \"$(pwd -P)\" ] && printf '%s\\t%s\\n' \"$(basename {})\" \"$(wc -l < {})\"";
    run(&[
        "map",
        "--quiet",
        "s3://data/in/",
        "--per-file",
        "--mapper",
        mapper,
        "--out",
        "s3://data/pf",
    ]);
    assert_eq!(parts("pf"), "one.txt\t2\ntwo.txt\t1\n");
}
