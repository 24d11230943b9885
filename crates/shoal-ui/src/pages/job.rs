//! A job's page: stages, throughput, the timeline per worker, failures
//! and recent attempts.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use shoal_cluster::trace::{FailureRecord, Lane, StageTrace};

use super::format::{bytes, count, duration_us, esc, script_json, url_segment, utc};
use super::overview::job_duration;
use super::{badge, progress, Page};
use crate::model::JobDetail;

/// What the charts script draws: the timeline's buckets, with each lane's
/// slots to scale its bars and the stage names for the legend.
#[derive(Serialize)]
struct Charts<'a> {
    origin_ms: u64,
    bucket_ms: u64,
    /// Where the time axis ends (now while running, else the job's end).
    end_ms: u64,
    stages: Vec<&'a str>,
    lanes: Vec<ChartLane<'a>>,
    done: &'a [u64],
    bytes: &'a [u64],
}

#[derive(Serialize)]
struct ChartLane<'a> {
    name: &'a str,
    slots: u64,
    #[serde(flatten)]
    lane: &'a Lane,
}

/// The page of one job.
pub fn job_page(detail: &JobDetail, now_ms: u64) -> Page {
    let row = &detail.row;
    let trace = &detail.trace;
    let running = row.state == "running";
    let (done, total) = row.totals();
    let mut main = String::new();
    let _ = writeln!(
        main,
        "<h1>{name} <span class=\"job-id\">{id}</span> {state}</h1>\n\
         <p class=\"facts\">started {started} · {duration} · {done}/{total} tasks{running_now}</p>",
        name = esc(&row.name),
        id = esc(&row.id),
        state = badge(&row.state),
        started = utc(row.started_ms),
        duration = job_duration(row, now_ms),
        running_now = detail
            .running
            .filter(|_| running)
            .map_or(String::new(), |n| format!(" · {n} running")),
    );
    if running && detail.cancellable {
        let _ = writeln!(
            main,
            "<p><button class=\"cancel\" data-cancel=\"{}\">Cancel job</button>\
             <span class=\"cancel-result\"></span></p>",
            esc(&row.id)
        );
    }
    if !row.error.is_empty() {
        let _ = writeln!(main, "<pre class=\"error\">{}</pre>", esc(&row.error));
    }
    main.push_str(&stages_table(
        &trace.stages,
        detail.running.filter(|_| running),
        trace.output_sizes,
    ));
    main.push_str(&charts(detail, now_ms));
    main.push_str(&failures(
        &trace.failures,
        trace.failures_dropped,
        &trace.stages,
    ));
    main.push_str(&recent(detail));
    Page {
        title: format!("{} {}", row.name, row.id),
        main,
        live: running,
        with_cancel_token: detail.cancellable && running,
    }
}

/// `output_sizes`: whether the stages' output bytes are known.
fn stages_table(stages: &[StageTrace], running: Option<u64>, output_sizes: bool) -> String {
    let mut out = String::from(
        "<section id=\"stages\">\n<h2>Stages</h2>\n<table class=\"stages\">\n<thead><tr><th>#</th>\
         <th>stage</th><th>progress</th><th>running</th><th>failed</th><th>retried</th>\
         <th>speculative</th><th>rows</th><th>input</th><th>output</th><th>task p50</th>\
         <th>task p95</th><th>time</th></tr></thead>\n<tbody>\n",
    );
    // Stages run one after another: the running tasks are the current one's.
    let current = stages
        .iter()
        .position(|s| s.started_ms > 0 && s.finished_ms == 0);
    for (i, s) in stages.iter().enumerate() {
        let running_here = match (running, current) {
            (Some(n), Some(c)) if c == i => n.to_string(),
            _ => "—".into(),
        };
        let quantile = |q| {
            s.durations.quantile_bound(q).map_or_else(
                || "—".into(),
                |b| format!("≤ {}", duration_us((b * 1e6) as u64)),
            )
        };
        let elapsed = match (s.started_ms, s.finished_ms) {
            (0, _) => "—".into(),
            (start, 0) => format!("since {}", utc(start)),
            (start, end) => duration_us(end.saturating_sub(start) * 1000),
        };
        let _ = writeln!(
            out,
            "<tr class=\"stage\"><td>{i}</td><td>{name}</td><td>{bar}</td><td class=\"num\">{running_here}</td>\
             <td class=\"num{bad}\">{failed}</td><td class=\"num\">{retried}</td>\
             <td class=\"num\">{spec}</td><td class=\"num\">{rows}</td><td class=\"num\">{bin}</td>\
             <td class=\"num\">{bout}</td><td class=\"num\">{p50}</td><td class=\"num\">{p95}</td>\
             <td class=\"num\">{elapsed}</td></tr>",
            name = esc(&s.name),
            bar = progress(s.done, s.tasks, 0),
            bad = if s.failed > 0 { " bad" } else { "" },
            failed = s.failed,
            retried = s.retried,
            spec = s.speculative,
            rows = count(s.rows as f64, ""),
            bin = bytes(s.bytes_in),
            // A trace whose reports do not size outputs (one written by an
            // older driver): unknown, not zero.
            bout = if output_sizes { bytes(s.bytes_out) } else { "—".into() },
            p50 = quantile(0.5),
            p95 = quantile(0.95),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    out
}

fn charts(detail: &JobDetail, now_ms: u64) -> String {
    let trace = &detail.trace;
    let timeline = &trace.timeline;
    let slots: BTreeMap<&str, u64> = detail
        .lane_slots
        .iter()
        .map(|(name, n)| (name.as_str(), *n))
        .collect();
    let end_ms = if detail.row.finished_ms > 0 {
        detail.row.finished_ms
    } else {
        now_ms
    };
    let data = Charts {
        origin_ms: timeline.origin_ms,
        bucket_ms: timeline.bucket_ms,
        end_ms: end_ms.max(timeline.origin_ms),
        stages: trace.stages.iter().map(|s| s.name.as_str()).collect(),
        lanes: timeline
            .lanes
            .iter()
            .map(|(name, lane)| ChartLane {
                name,
                slots: slots.get(name.as_str()).copied().unwrap_or(1).max(1),
                lane,
            })
            .collect(),
        done: &timeline.done,
        bytes: &timeline.bytes,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<section id=\"throughput\">\n<h2>Throughput</h2>\n\
         <canvas class=\"chart throughput\" height=\"140\" aria-label=\"tasks committed per second\"></canvas>\n\
         </section>\n<section id=\"timeline\">\n<h2>Timeline <span class=\"count\">{lanes} workers · buckets of {width}</span></h2>\n\
         <div class=\"legend\"></div>\n\
         <canvas class=\"chart timeline\" height=\"{height}\" aria-label=\"task time per worker\"></canvas>\n\
         <script type=\"application/json\" class=\"chart-data\">{json}</script>",
        lanes = timeline.lanes.len(),
        width = duration_us(timeline.bucket_ms * 1000),
        height = 24 + 26 * timeline.lanes.len().max(1),
        json = script_json(&data),
    );
    // The same data as text: for readers without canvas, and for tests.
    out.push_str(
        "<table class=\"lanes\">\n<thead><tr><th>worker</th><th>attempts</th><th>failed</th><th>task time</th></tr></thead>\n<tbody>\n",
    );
    for (name, lane) in &timeline.lanes {
        let _ = writeln!(
            out,
            "<tr class=\"lane\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(name),
            lane.ended.iter().sum::<u64>(),
            lane.failed.iter().sum::<u64>(),
            duration_us(lane.busy_us.iter().sum()),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    out
}

fn failures(failures: &[FailureRecord], dropped: u64, stages: &[StageTrace]) -> String {
    let mut out = String::from("<section id=\"failures\">\n<h2>Failures</h2>\n");
    if failures.is_empty() {
        out.push_str("<p class=\"empty\">No failed attempts.</p>\n</section>\n");
        return out;
    }
    // Attempt history per task, in the order tasks first failed.
    let mut tasks: Vec<((u32, u32), Vec<&FailureRecord>)> = Vec::new();
    for f in failures {
        match tasks
            .iter_mut()
            .find(|(key, _)| *key == (f.stage, f.partition))
        {
            Some((_, attempts)) => attempts.push(f),
            None => tasks.push(((f.stage, f.partition), vec![f])),
        }
    }
    for ((stage, partition), attempts) in tasks {
        let name = stages.get(stage as usize).map_or("", |s| s.name.as_str());
        let _ = writeln!(
            out,
            "<details class=\"failure\" open><summary>stage {stage} {} · partition {partition} · {} failed attempts</summary>\n<ol>",
            esc(name),
            attempts.len()
        );
        for f in attempts {
            let _ = writeln!(
                out,
                "<li>attempt {} on <a href=\"/workers/{}\">{}</a> at {}<pre class=\"error\">{}</pre></li>",
                f.attempt + 1,
                url_segment(&f.worker),
                esc(&f.worker),
                utc(f.at_ms),
                esc(&f.error)
            );
        }
        out.push_str("</ol>\n</details>\n");
    }
    if dropped > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{dropped} more failed attempts not kept.</p>"
        );
    }
    out.push_str("</section>\n");
    out
}

fn recent(detail: &JobDetail) -> String {
    let trace = &detail.trace;
    let mut out = String::from(
        "<section id=\"recent\">\n<h2>Recent attempts</h2>\n<table class=\"recent\">\n<thead><tr><th>worker</th>\
         <th>stage</th><th>partition</th><th>attempt</th><th>started</th><th>duration</th><th>outcome</th></tr></thead>\n<tbody>\n",
    );
    for t in trace.recent.iter().rev() {
        let stage = trace
            .stages
            .get(t.stage as usize)
            .map_or(String::new(), |s| s.name.clone());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{} {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"outcome {}\">{}</td></tr>",
            esc(&t.worker),
            t.stage,
            esc(&stage),
            t.partition,
            t.attempt + 1,
            utc(t.started_ms),
            duration_us(t.duration_us),
            t.outcome.as_str(),
            t.outcome.as_str(),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    out
}

#[cfg(test)]
mod tests {
    use shoal_cluster::trace::JobTrace;

    use super::*;
    use crate::model::JobRow;

    /// The output cell of the first stage's row on the page of a job whose
    /// one stage wrote `bytes_out`.
    fn output_cell(trace: JobTrace, bytes_out: u64) -> String {
        let mut trace = trace;
        trace.stages[0].bytes_out = bytes_out;
        let detail = JobDetail {
            row: JobRow {
                id: "j1".into(),
                name: "j".into(),
                state: "succeeded".into(),
                ..JobRow::default()
            },
            trace,
            lane_slots: Vec::new(),
            running: None,
            cancellable: false,
        };
        let main = job_page(&detail, 0).main;
        let row = main
            .split("<tr class=\"stage\">")
            .nth(1)
            .expect("a stage row");
        let cells: Vec<&str> = row.split("<td").skip(1).collect();
        let cell = cells[9];
        cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()].to_string()
    }

    #[test]
    fn a_stage_shows_its_output_bytes_when_reports_size_them_and_unknown_otherwise() {
        let stages = [("map".to_string(), 4)];
        let sized = JobTrace::new(0, &stages).with_output_sizes();
        assert_eq!(output_cell(sized.clone(), 3 << 20), bytes(3 << 20));
        assert_eq!(output_cell(sized, 0), bytes(0), "known to be empty");
        assert_eq!(output_cell(JobTrace::new(0, &stages), 0), "—");
    }
}
