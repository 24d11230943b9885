//! A worker's page: what it is and its recent attempts.

use std::fmt::Write;

use super::format::{bytes, duration_ms, duration_us, esc, url_segment, utc};
use super::Page;
use crate::model::WorkerDetail;

/// The page of one worker.
pub fn worker_page(detail: &WorkerDetail) -> Page {
    let w = &detail.row;
    let mut main = String::new();
    let _ = writeln!(
        main,
        "<h1>Worker {name}</h1>\n<p class=\"facts\">{host} · {slots} slots · {running} running · \
         heartbeat {age} ago · {done} done · {failed} failed · CPU {cpu} · memory {rss} · version {version}</p>\n\
         <p class=\"facts\">runs: {offers}</p>",
        name = esc(&w.name),
        host = esc(&w.host),
        slots = w.slots,
        running = w.running,
        age = duration_ms(w.heartbeat_age_ms),
        done = w.done,
        failed = w.failed,
        cpu = w.cpu_percent.map_or_else(|| "—".into(), |c| format!("{c:.0}%")),
        rss = w.rss_bytes.map_or_else(|| "—".into(), bytes),
        version = esc(&w.version),
        offers = esc(&detail.offers.join(", ")),
    );
    main.push_str(
        "<section id=\"recent\">\n<h2>Recent attempts</h2>\n<table class=\"recent\">\n<thead><tr><th>job</th>\
         <th>stage</th><th>partition</th><th>attempt</th><th>started</th><th>duration</th><th>outcome</th></tr></thead>\n<tbody>\n",
    );
    if detail.recent.is_empty() {
        main.push_str("<tr><td colspan=\"7\" class=\"empty\">No attempts yet.</td></tr>\n");
    }
    for t in &detail.recent {
        let s = &t.sample;
        let _ = writeln!(
            main,
            "<tr><td><a href=\"/jobs/{link}\">{job}</a></td><td>{stage} {stage_name}</td><td class=\"num\">{p}</td>\
             <td class=\"num\">{a}</td><td>{started}</td><td class=\"num\">{d}</td><td class=\"outcome {o}\">{o}</td></tr>",
            link = url_segment(&t.job_id),
            job = esc(&t.job_id),
            stage = s.stage,
            stage_name = esc(&t.stage_name),
            p = s.partition,
            a = s.attempt + 1,
            started = utc(s.started_ms),
            d = duration_us(s.duration_us),
            o = s.outcome.as_str(),
        );
    }
    main.push_str("</tbody>\n</table>\n</section>\n");
    Page {
        title: format!("Worker {}", w.name),
        main,
        live: true,
        with_cancel_token: false,
    }
}
