//! What a job's end may be, given the faults that hit it.
//!
//! A job either prints exactly the bytes of its embedded run, or fails
//! cleanly — exit code 1, nothing on stdout, no panic, and an error that
//! one of the faults it suffered explains. Which faults may make a job
//! fail, and how the error must read:
//!
//! | fault | may fail the job? | the error must name |
//! |---|---|---|
//! | worker SIGKILL, SIGSTOP, network cut | no: its tasks run elsewhere | — |
//! | driver SIGKILL | yes, the driver is gone (no output) | — (killed by the signal) |
//! | driver SIGSTOP/SIGCONT | no: a resumed driver takes its job back | — |
//! | control Redis SIGKILL, empty restart | yes, if the outage outlasts the driver's patience | the control plane |
//! | control Sentinel failover | no: nodes follow the Sentinels | — |
//! | S3 server SIGKILL or SIGSTOP | yes, for a job reading S3 or on an S3 store | the `s3://` object |
//! | bank faults | no (the bank is not the cluster's) | — |
//!
//! Anything else is a wrong result, a hang (the job outlived its
//! deadline) or an unexplained failure.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::jobs::JobKind;
use crate::schedule::FaultKind;

/// How a job ended, as the checker judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The embedded bytes.
    Exact,
    /// A clean failure; the explanation names the fault.
    Clean(String),
    /// Exit 0 with other bytes, or output beside a failure.
    Wrong(String),
    /// Still running at the deadline.
    Hang,
    /// A failure no fault of the job explains (or a panic, or exit 2).
    Unexplained(String),
}

impl Verdict {
    /// Whether this ends the run in failure.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::Wrong(_) | Verdict::Hang | Verdict::Unexplained(_)
        )
    }
}

/// What a job went through.
pub struct Circumstances {
    /// The job.
    pub job: JobKind,
    /// Whether the cluster's store is on the S3 server.
    pub store_on_s3: bool,
    /// Faults injected while its driver ran.
    pub faults: Vec<FaultKind>,
}

/// Judges a job's end: `status` (None: killed at the deadline), its
/// stdout and stderr, against the embedded bytes.
pub fn judge(
    status: Option<ExitStatus>,
    stdout: &[u8],
    stderr: &str,
    expected: &[u8],
    what: &Circumstances,
) -> Verdict {
    let Some(status) = status else {
        return Verdict::Hang;
    };
    if status.signal() == Some(libc::SIGKILL) && what.faults.contains(&FaultKind::DriverKill) {
        return Verdict::Clean("driver killed".into());
    }
    if status.success() {
        return if stdout == expected {
            Verdict::Exact
        } else {
            Verdict::Wrong(difference(stdout, expected))
        };
    }
    // Progress lines may mention faults the job survived: only the error
    // itself may explain a failure.
    let error = error_lines(stderr);
    let first = first_line(&error);
    if !stdout.is_empty() {
        return Verdict::Wrong(format!(
            "{} bytes on stdout beside a failure ({status}): {first}",
            stdout.len()
        ));
    }
    if let Some(at) = stderr.find("panicked") {
        return Verdict::Unexplained(format!("a panic: {}", first_line(&stderr[at..])));
    }
    if status.code() != Some(1) {
        return Verdict::Unexplained(format!("{status} (1 is a job failure): {first}"));
    }
    match what
        .faults
        .iter()
        .find_map(|fault| excuse(*fault, what, &error))
    {
        Some(reason) => Verdict::Clean(reason.into()),
        None => Verdict::Unexplained(first),
    }
}

/// Whether `fault` explains a failure reading `stderr`: the explanation,
/// or None.
fn excuse(fault: FaultKind, what: &Circumstances, stderr: &str) -> Option<&'static str> {
    match fault {
        FaultKind::ControlRestart if stderr.contains("control plane") => {
            Some("control plane down too long")
        }
        FaultKind::S3Kill | FaultKind::S3Pause
            if (what.job.reads_s3() || what.store_on_s3) && stderr.contains("s3://") =>
        {
            Some("S3 server unavailable")
        }
        _ => None,
    }
}

/// The `PROGRAM: error: …` lines (the whole text when there are none).
fn error_lines(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
    if errors.is_empty() {
        stderr.to_string()
    } else {
        errors.join("\n")
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(300).collect()
}

/// Where `got` first differs from `want`, for the report.
fn difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let around = |bytes: &[u8]| {
        let from = at.saturating_sub(40);
        String::from_utf8_lossy(&bytes[from.min(bytes.len())..(at + 40).min(bytes.len())])
            .into_owned()
    };
    format!(
        "{} bytes instead of {}, first difference at byte {at}: got {:?}, want {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn hit_by(faults: &[FaultKind]) -> Circumstances {
        Circumstances {
            job: JobKind::Wordcount,
            store_on_s3: false,
            faults: faults.to_vec(),
        }
    }

    #[test]
    fn exact_bytes_pass_and_any_other_bytes_are_wrong() {
        let none = hit_by(&[]);
        assert_eq!(
            judge(Some(status(0)), b"a 1\n", "", b"a 1\n", &none),
            Verdict::Exact
        );
        let wrong = judge(Some(status(0)), b"a 2\n", "", b"a 1\n", &none);
        assert!(
            matches!(wrong, Verdict::Wrong(ref d) if d.contains("byte 2")),
            "{wrong:?}"
        );
    }

    #[test]
    fn a_failure_is_clean_only_when_a_fault_explains_it() {
        let err = "shoal: error: job failed: control plane redis://10.0.0.1:6379 unreachable";
        let restarted = hit_by(&[FaultKind::ControlRestart]);
        assert!(matches!(
            judge(Some(status(1)), b"", err, b"x", &restarted),
            Verdict::Clean(_)
        ));
        let killed_worker = hit_by(&[FaultKind::WorkerKill]);
        assert!(matches!(
            judge(Some(status(1)), b"", err, b"x", &killed_worker),
            Verdict::Unexplained(_)
        ));
        // S3 faults excuse only jobs that touch S3.
        let s3 = "shoal: stage 0 (read): 6 tasks\n\
                  shoal: error: get s3://inputs/csv/events-00001.csv: connection refused";
        let local = hit_by(&[FaultKind::S3Kill]);
        assert!(matches!(
            judge(Some(status(1)), b"", s3, b"x", &local),
            Verdict::Unexplained(_)
        ));
        let reading = Circumstances {
            job: JobKind::AnalyzeCsvS3,
            ..hit_by(&[FaultKind::S3Kill])
        };
        assert!(matches!(
            judge(Some(status(1)), b"", s3, b"x", &reading),
            Verdict::Clean(_)
        ));
    }

    #[test]
    fn progress_lines_do_not_explain_a_failure() {
        let survived =
            "shoal: control plane redis://h:1 restarted; resubmitting unfinished tasks\n\
                        shoal: error: job failed: stage 1: attempt 3: no space left";
        let restarted = hit_by(&[FaultKind::ControlRestart]);
        assert!(matches!(
            judge(Some(status(1)), b"", survived, b"x", &restarted),
            Verdict::Unexplained(ref e) if e.contains("no space")
        ));
    }

    #[test]
    fn panics_exit_2_hangs_and_output_beside_failure_are_never_clean() {
        let restarted = hit_by(&[FaultKind::ControlRestart]);
        let panic = "thread 'main' panicked at src/x.rs:1: control plane";
        assert!(judge(Some(status(1)), b"", panic, b"x", &restarted).is_failure());
        assert!(judge(Some(status(2)), b"", "control plane", b"x", &restarted).is_failure());
        assert!(judge(
            Some(status(1)),
            b"partial",
            "control plane",
            b"x",
            &restarted
        )
        .is_failure());
        assert_eq!(judge(None, b"", "", b"x", &restarted), Verdict::Hang);
    }

    #[test]
    fn a_killed_driver_is_clean_only_if_the_nemesis_killed_it() {
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        assert!(matches!(
            judge(
                Some(killed),
                b"",
                "",
                b"x",
                &hit_by(&[FaultKind::DriverKill])
            ),
            Verdict::Clean(_)
        ));
        assert!(judge(Some(killed), b"", "", b"x", &hit_by(&[])).is_failure());
    }
}
