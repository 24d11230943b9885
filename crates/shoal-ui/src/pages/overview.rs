//! The front page of a cluster: workers and jobs.

use std::fmt::Write;

use super::format::{bytes, duration_ms, esc, url_segment, utc};
use super::{badge, progress, Page};
use crate::model::{JobRow, Overview, WorkerRow};

/// Workers (with their load) and jobs (with a bar per stage).
pub fn overview_page(overview: &Overview, now_ms: u64) -> Page {
    let mut main = String::new();
    let _ = writeln!(
        main,
        "<h1>Cluster</h1>\n<section id=\"workers\">\n<h2>Workers <span class=\"count\">{}</span></h2>",
        overview.workers.len()
    );
    if overview.workers.is_empty() {
        main.push_str("<p class=\"empty\">No live workers.</p>\n");
    } else {
        main.push_str(
            "<table class=\"workers\">\n<thead><tr><th>name</th><th>host</th><th>slots</th>\
             <th>running</th><th>heartbeat</th><th>done</th><th>failed</th><th>CPU</th>\
             <th>memory</th></tr></thead>\n<tbody>\n",
        );
        for w in &overview.workers {
            main.push_str(&worker_row(w));
        }
        main.push_str("</tbody>\n</table>\n");
    }
    let _ = writeln!(
        main,
        "</section>\n<section id=\"jobs\">\n<h2>Jobs <span class=\"count\">{}</span></h2>",
        overview.jobs.len()
    );
    if overview.jobs.is_empty() {
        main.push_str("<p class=\"empty\">No jobs yet.</p>\n");
    } else {
        main.push_str(
            "<table class=\"jobs\">\n<thead><tr><th>job</th><th>name</th><th>state</th>\
             <th>started</th><th>duration</th><th>stages</th><th>failures</th></tr></thead>\n<tbody>\n",
        );
        for job in &overview.jobs {
            main.push_str(&job_row(job, now_ms));
        }
        main.push_str("</tbody>\n</table>\n");
    }
    main.push_str("</section>\n");
    Page {
        title: "Cluster".into(),
        main,
        live: true,
        with_cancel_token: false,
    }
}

fn worker_row(w: &WorkerRow) -> String {
    let cpu = w
        .cpu_percent
        .map_or_else(|| "—".into(), |c| format!("{c:.0}%"));
    let rss = w.rss_bytes.map_or_else(|| "—".into(), bytes);
    format!(
        "<tr class=\"worker\" data-worker=\"{name}\"><td><a href=\"/workers/{link}\">{name}</a></td>\
         <td>{host}</td><td class=\"num\">{slots}</td><td class=\"num\">{running}</td>\
         <td class=\"num\">{age}</td><td class=\"num\">{done}</td><td class=\"num{bad}\">{failed}</td>\
         <td class=\"num\">{cpu}</td><td class=\"num\">{rss}</td></tr>\n",
        name = esc(&w.name),
        link = url_segment(&w.name),
        host = esc(&w.host),
        slots = w.slots,
        running = w.running,
        age = duration_ms(w.heartbeat_age_ms),
        done = w.done,
        failed = w.failed,
        bad = if w.failed > 0 { " bad" } else { "" },
    )
}

/// How long a job ran, or has been running.
pub(super) fn job_duration(job: &JobRow, now_ms: u64) -> String {
    let end = if job.finished_ms > 0 {
        job.finished_ms
    } else {
        now_ms
    };
    duration_ms(end.saturating_sub(job.started_ms))
}

fn job_row(job: &JobRow, now_ms: u64) -> String {
    let mut stages = String::new();
    for (i, s) in job.stages.iter().enumerate() {
        let _ = write!(
            stages,
            "<div class=\"stage\"><span class=\"stage-name\">{i} {}</span> {}</div>",
            esc(&s.name),
            progress(s.done, s.tasks, s.failed)
        );
    }
    let error = if job.error.is_empty() {
        String::new()
    } else {
        format!("<div class=\"error-line\">{}</div>", esc(&job.error))
    };
    format!(
        "<tr class=\"job\" data-job=\"{id}\" data-state=\"{state_attr}\"><td><a href=\"/jobs/{link}\">{id}</a></td>\
         <td>{name}</td><td>{state}</td><td>{started}</td><td class=\"num\">{duration}</td>\
         <td class=\"stages\">{stages}{error}</td><td class=\"num{bad}\">{failures}</td></tr>\n",
        id = esc(&job.id),
        link = url_segment(&job.id),
        state_attr = esc(&job.state),
        name = esc(&job.name),
        state = badge(&job.state),
        started = utc(job.started_ms),
        duration = job_duration(job, now_ms),
        failures = job.failures,
        bad = if job.failures > 0 { " bad" } else { "" },
    )
}
