//! Rendering runtime progress: bars on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use shoal_core::{ProgressEvent, ProgressSink};

/// How progress is shown.
enum Mode {
    Quiet,
    /// One line per stage start/finish and per failed attempt.
    Lines,
    Bars(MultiProgress),
}

#[derive(Default)]
struct StageState {
    bar: Option<ProgressBar>,
    rows: u64,
    bytes: u64,
    spilled: u64,
}

/// The CLI's [`ProgressSink`].
pub struct CliProgress {
    mode: Mode,
    stages: Mutex<Vec<StageState>>,
}

impl CliProgress {
    /// Bars when stderr is a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::with_draw_target(
                ProgressDrawTarget::stderr_with_hz(10),
            ))
        } else {
            Mode::Lines
        };
        CliProgress {
            mode,
            stages: Mutex::new(Vec::new()),
        }
    }

    /// Leaves finished bars on screen and stops drawing.
    pub fn finish(&self) {
        if let Mode::Bars(multi) = &self.mode {
            let _ = multi.clear();
        }
    }

    fn with_stage(&self, stage: u32, f: impl FnOnce(&mut StageState)) {
        let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        if stages.len() <= stage as usize {
            stages.resize_with(stage as usize + 1, StageState::default);
        }
        f(&mut stages[stage as usize]);
    }

    fn line(&self, text: String) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{}: {text}", crate::program_name()),
            Mode::Bars(multi) => {
                let _ = multi.println(text);
            }
        }
    }
}

fn volume(state: &StageState) -> String {
    let mut parts = Vec::new();
    if state.rows > 0 {
        parts.push(format!("{} rows", human(state.rows as f64, "")));
    }
    if state.bytes > 0 {
        parts.push(human(state.bytes as f64, "B"));
    }
    if state.spilled > 0 {
        parts.push(format!("spilled {}", human(state.spilled as f64, "B")));
    }
    parts.join(", ")
}

pub(crate) fn human(value: f64, unit: &str) -> String {
    const PREFIXES: [&str; 5] = ["", "k", "M", "G", "T"];
    let mut v = value;
    let mut i = 0;
    while v >= 1000.0 && i < PREFIXES.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {unit}").trim_end().to_string()
    } else {
        format!("{v:.1} {}{unit}", PREFIXES[i])
    }
}

impl ProgressSink for CliProgress {
    fn event(&self, event: &ProgressEvent<'_>) {
        match *event {
            ProgressEvent::StageStarted { stage, name, tasks } => match &self.mode {
                Mode::Quiet => {}
                Mode::Lines => self.line(format!("stage {stage} ({name}): {tasks} tasks")),
                Mode::Bars(multi) => {
                    let bar = multi.add(ProgressBar::new(tasks as u64));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>12} [{bar:30}] {pos}/{len} tasks {elapsed:>4} {msg}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(name.to_string());
                    bar.enable_steady_tick(Duration::from_millis(200));
                    self.with_stage(stage, |s| s.bar = Some(bar));
                }
            },
            ProgressEvent::Processed { stage, rows, bytes } => self.with_stage(stage, |s| {
                s.rows += rows;
                s.bytes += bytes;
                if let Some(bar) = &s.bar {
                    bar.set_message(volume(s));
                }
            }),
            ProgressEvent::Spilled { stage, bytes } => self.with_stage(stage, |s| {
                s.spilled += bytes;
                if let Some(bar) = &s.bar {
                    bar.set_message(volume(s));
                }
            }),
            ProgressEvent::TaskFinished { stage, .. } => {
                if matches!(self.mode, Mode::Bars(_)) {
                    self.with_stage(stage, |s| {
                        if let Some(bar) = &s.bar {
                            bar.inc(1);
                        }
                    });
                }
            }
            ProgressEvent::TaskFailed {
                stage,
                partition,
                attempt,
                error,
                will_retry,
            } => {
                let next = if will_retry { ", retrying" } else { "" };
                self.line(format!(
                    "stage {stage} partition {partition} attempt {} failed{next}: {}",
                    attempt + 1,
                    error.chain()
                ));
            }
            // Part of the run summary (`summary.rs`), shown once the job ends.
            ProgressEvent::Memory(_) => {}
            ProgressEvent::StageFinished {
                stage,
                name,
                elapsed,
            } => {
                let mut summary = String::new();
                self.with_stage(stage, |s| {
                    if let Some(bar) = &s.bar {
                        bar.finish();
                    }
                    summary = volume(s);
                });
                if matches!(self.mode, Mode::Lines) {
                    let extra = if summary.is_empty() {
                        String::new()
                    } else {
                        format!(" ({summary})")
                    };
                    self.line(format!(
                        "stage {stage} ({name}) done in {:.2}s{extra}",
                        elapsed.as_secs_f64()
                    ));
                }
            }
        }
    }
}
