//! The process runner with real `sh` programs: pipes both ways at once,
//! exit statuses and stderr, timeouts, cancellation, and no process of a
//! task left behind however it ends.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shoal_core::TaskError;
use shoal_stream::process::{run, Limits, PipeReader, PipeWriter, Program, ProgramError, Ran};
use shoal_testkit::{eventually, live_processes};

/// A marker unique to one test, set in the program's environment, so the
/// test can look for its processes in /proc.
fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of live (not zombie) processes whose environment has
/// `SHOAL_TEST_MARK=mark`.
fn processes_marked(mark: &str) -> Vec<u32> {
    let needle = format!("SHOAL_TEST_MARK={mark}");
    live_processes("environ", |environ| {
        environ.split(|&b| b == 0).any(|v| v == needle.as_bytes())
    })
}

/// Polls until no marked process is left, for at most 5 s.
fn assert_none_left(mark: &str) {
    eventually(
        Duration::from_secs(5),
        "no process of the task to be left",
        || match processes_marked(mark) {
            left if left.is_empty() => Ok(()),
            left => Err(format!("processes left behind: {left:?}")),
        },
    );
}

struct Setup {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    mark: String,
}

fn setup() -> Setup {
    let mark = marker();
    Setup {
        dir: tempfile::tempdir().unwrap(),
        env: vec![("SHOAL_TEST_MARK".to_string(), mark.clone())],
        mark,
    }
}

fn program<'a>(setup: &'a Setup, command: &'a str) -> Program<'a> {
    Program {
        role: "mapper",
        command,
        dir: setup.dir.path(),
        env: &setup.env,
    }
}

fn never() -> bool {
    false
}

fn no_limits() -> Limits<'static> {
    Limits {
        deadline: None,
        timeout: None,
        cancelled: &never,
    }
}

fn feed_bytes(
    data: &[u8],
) -> impl FnOnce(&mut PipeWriter<'_>) -> Result<(), TaskError> + Send + '_ {
    move |w| Ok(w.write_all(data)?)
}

fn read_all(r: &mut PipeReader<'_>) -> Result<Vec<u8>, TaskError> {
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

fn run_simple(
    setup: &Setup,
    command: &str,
    input: &[u8],
    limits: &Limits<'_>,
) -> Result<Ran<Vec<u8>>, ProgramError> {
    run(
        &program(setup, command),
        limits,
        feed_bytes(input),
        read_all,
    )
}

#[test]
fn large_input_and_output_flow_both_ways_at_once() {
    let setup = setup();
    // 16 MiB through `cat` and `tac | tac`: far beyond a pipe buffer, so
    // feeding and draining one after the other would deadlock.
    let input: Vec<u8> = (0..1_000_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    for command in ["cat", "tac | tac"] {
        let ran = run_simple(&setup, command, &input, &no_limits()).unwrap();
        assert_eq!(ran.output.len(), input.len(), "{command}");
        assert!(ran.output == input, "{command}");
        assert_eq!(ran.input_bytes, input.len() as u64);
        assert!(!ran.stopped_reading);
    }
    assert_none_left(&setup.mark);
}

#[test]
fn a_program_that_stops_reading_early_is_not_an_error() {
    let setup = setup();
    let input = "a\n".repeat(2_000_000);
    let ran = run_simple(&setup, "head -n 1", input.as_bytes(), &no_limits()).unwrap();
    assert_eq!(ran.output, b"a\n");
    assert!(ran.stopped_reading);
}

#[test]
fn environment_and_working_directory_are_the_tasks() {
    let setup = setup();
    std::fs::write(setup.dir.path().join("shipped.txt"), "here\n").unwrap();
    let ran = run_simple(
        &setup,
        "cat shipped.txt; echo \"$SHOAL_TEST_MARK\"; test -n \"$SHOAL_TASK_TOKEN\" && echo token",
        b"",
        &no_limits(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(ran.output).unwrap(),
        format!("here\n{}\ntoken\n", setup.mark)
    );
}

#[test]
fn a_failing_program_reports_its_status_and_stderr_tail() {
    let setup = setup();
    let script = "for i in $(seq 1 30); do echo \"err $i\" >&2; done; \
                  echo reporter:counter:app,seen,2 >&2; exit 3";
    let err = run_simple(&setup, script, b"x\n", &no_limits()).unwrap_err();
    let ProgramError::Failed { how, stderr, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(how, "exited with status 3");
    assert_eq!(stderr.tail.len(), 20);
    assert_eq!(stderr.tail.back().unwrap(), "err 30");
    let text = err.to_string();
    assert!(text.starts_with("mapper `for i in"), "{text}");
    assert!(
        text.contains("exited with status 3; last 20 of 30 stderr lines:"),
        "{text}"
    );
    assert!(text.contains("\n  | err 11\n"), "{text}");
    assert!(!text.contains("err 10\n"), "{text}");

    let err = run_simple(&setup, "kill -9 $$", b"", &no_limits()).unwrap_err();
    assert!(
        err.to_string()
            .contains("was killed by signal 9 (SIGKILL); stderr was empty"),
        "{err}"
    );
}

#[test]
fn counters_and_status_come_from_stderr() {
    let setup = setup();
    let script = "echo reporter:counter:app,lines,2 >&2; echo reporter:status:busy >&2; \
                  echo reporter:counter:app,lines,5 >&2; echo note >&2; echo out";
    let ran = run_simple(&setup, script, b"", &no_limits()).unwrap();
    assert_eq!(ran.output, b"out\n");
    assert_eq!(ran.stderr.counters.get("app", "lines"), 7);
    assert_eq!(ran.stderr.status.as_deref(), Some("busy"));
    assert_eq!(ran.stderr.tail, ["note"]);
}

#[test]
fn a_hanging_program_is_killed_at_the_deadline_with_its_whole_group() {
    let setup = setup();
    let started = Instant::now();
    let limits = Limits {
        deadline: Some(started + Duration::from_millis(300)),
        timeout: Some(Duration::from_millis(300)),
        cancelled: &never,
    };
    // A pipeline and a background child: three processes in the group.
    let err = run_simple(
        &setup,
        "echo started >&2; sleep 60 & sleep 60 | cat; wait",
        b"",
        &limits,
    )
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, ProgramError::TimedOut { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("ran past the task timeout (0.300s) and was killed; stderr:\n  | started"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_none_left(&setup.mark);
}

#[test]
fn cancelling_kills_the_program_at_once() {
    let setup = setup();
    let cancelled = AtomicBool::new(false);
    let is_cancelled = || cancelled.load(Ordering::Relaxed);
    let limits = Limits {
        deadline: None,
        timeout: None,
        cancelled: &is_cancelled,
    };
    let result = run(
        &program(&setup, "echo up; sleep 60"),
        &limits,
        |_| Ok(()),
        |r: &mut PipeReader<'_>| {
            // The program is up once its first line arrives.
            let mut first = [0u8; 3];
            r.read_exact(&mut first)?;
            cancelled.store(true, Ordering::Relaxed);
            read_all(r)
        },
    );
    let err = result.unwrap_err();
    assert!(matches!(err, ProgramError::Cancelled { .. }), "{err}");
    assert_none_left(&setup.mark);
}

#[test]
fn background_processes_of_a_successful_program_are_killed() {
    let setup = setup();
    // A background child that closes its pipes (it would never end) and
    // one that left the process group (setsid): both must go.
    let script = "sleep 60 </dev/null >/dev/null 2>&1 & \
                  setsid sleep 61 </dev/null >/dev/null 2>&1 & echo done";
    let ran = run_simple(&setup, script, b"", &no_limits()).unwrap();
    assert_eq!(ran.output, b"done\n");
    assert_none_left(&setup.mark);
}

#[test]
fn a_failing_drainer_stops_the_program() {
    let setup = setup();
    let err = run(
        &program(&setup, "yes"),
        &no_limits(),
        |_| Ok(()),
        |r: &mut PipeReader<'_>| -> Result<(), TaskError> {
            let mut buf = [0u8; 4096];
            r.read_exact(&mut buf)?;
            Err(TaskError::new("disk full, say"))
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mapper `yes`: reading its stdout: disk full, say"
    );
    assert_none_left(&setup.mark);
}

#[test]
fn a_missing_working_directory_fails_to_start() {
    let setup = setup();
    let missing = setup.dir.path().join("nope");
    let env = setup.env.clone();
    let program = Program {
        role: "reducer",
        command: "true",
        dir: Path::new(&missing),
        env: &env,
    };
    let err = run(&program, &no_limits(), |_| Ok(()), read_all).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not start reducer `true` in "),
        "{err}"
    );
}
