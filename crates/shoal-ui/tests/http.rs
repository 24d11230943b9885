//! The dashboard over real HTTP: pages, live fragments, metrics and the
//! security rules (Host checks, tokens, cancel), served for a job running
//! in this process.

mod common;

use std::sync::Arc;

use common::{get, request};
use shoal_core::{ProgressEvent, ProgressSink};
use shoal_ui::{bind, Access, LocalJob, UiServer};

fn started_job() -> Arc<LocalJob> {
    let job = Arc::new(LocalJob::new("wordcount"));
    job.event(&ProgressEvent::StageStarted {
        stage: 0,
        name: "map",
        tasks: 3,
    });
    job.event(&ProgressEvent::TaskFinished {
        stage: 0,
        partition: 0,
        attempt: 0,
        bytes_out: 40,
    });
    job
}

fn serve(job: Arc<LocalJob>, token_file: Option<&std::path::Path>) -> UiServer {
    let addr = "127.0.0.1:0".parse().unwrap();
    let listener = bind(addr).unwrap();
    let bound = listener.local_addr().unwrap();
    let access = Access::new(bound, token_file, Vec::new()).unwrap();
    UiServer::start(listener, access, job, "embedded").unwrap()
}

#[test]
fn the_front_page_of_an_embedded_run_is_its_job_page_complete_from_the_first_response() {
    let server = serve(started_job(), None);
    let page = get(server.addr(), "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>wordcount"), "{}", page.body);
    assert!(page.body.contains("<progress value=\"1\" max=\"3\">"));
    assert!(page.body.contains("canvas class=\"chart timeline\""));
    assert!(page.body.contains("<td>thread 1</td>"));
    assert_eq!(page.header("x-shoal-live"), Some("true"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let partial = get(server.addr(), "/jobs/wordcount?partial=1");
    assert!(
        partial.body.starts_with("<h1>wordcount"),
        "{}",
        partial.body
    );
    assert!(!partial.body.contains("<html"));
    let script = get(server.addr(), "/assets/app.js");
    assert_eq!(script.status, 200);
    assert!(script.body.contains("drawTimeline"));
    assert_eq!(get(server.addr(), "/jobs/other").status, 404);
    assert_eq!(get(server.addr(), "/nothing").status, 404);
}

#[test]
fn a_finished_run_stops_live_updates() {
    let job = started_job();
    let server = serve(job.clone(), None);
    job.finish("succeeded", "");
    let page = get(server.addr(), "/");
    assert_eq!(page.header("x-shoal-live"), Some("false"));
    assert!(page.body.contains("badge ok"));
}

#[test]
fn metrics_report_the_runs_attempts() {
    let server = serve(started_job(), None);
    let reply = get(server.addr(), "/metrics");
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(
        reply
            .body
            .contains("shoal_tasks_total{job=\"wordcount\",stage=\"map\",outcome=\"done\"} 1"),
        "{}",
        reply.body
    );
}

#[test]
fn requests_naming_another_host_are_refused() {
    let server = serve(started_job(), None);
    let addr = server.addr();
    let rebound = request(addr, "GET", "/", "attacker.example", &[]);
    assert_eq!(rebound.status, 403);
    assert!(!rebound.body.contains("wordcount"));
    assert_eq!(
        request(addr, "GET", "/metrics", "attacker.example:80", &[]).status,
        403
    );
    assert_eq!(
        request(addr, "GET", "/", &format!("localhost:{}", addr.port()), &[]).status,
        200
    );
}

#[test]
fn with_a_token_every_request_needs_it_and_a_visit_sets_a_cookie() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "s3cret-token-0123456789\n").unwrap();
    let server = serve(started_job(), Some(file.path()));
    let addr = server.addr();
    for path in ["/", "/metrics", "/api/overview", "/jobs/wordcount"] {
        let reply = get(addr, path);
        assert_eq!(reply.status, 401, "{path}");
        assert!(!reply.body.contains("wordcount"), "{path}");
    }
    let host = addr.to_string();
    let bearer = request(
        addr,
        "GET",
        "/metrics",
        &host,
        &[("Authorization", "Bearer s3cret-token-0123456789")],
    );
    assert_eq!(bearer.status, 200);
    let visit = get(addr, "/?token=s3cret-token-0123456789");
    assert_eq!(visit.status, 303);
    assert_eq!(visit.header("location"), Some("/"));
    let cookie = visit.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap();
    let page = request(addr, "GET", "/", &host, &[("Cookie", cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("wordcount"));
    assert_eq!(get(addr, "/?token=wrong-token-000000000").status, 401);
}

#[test]
fn cancelling_needs_the_token_header_even_on_loopback() {
    let server = serve(started_job(), None);
    let addr = server.addr();
    let host = addr.to_string();
    let refused = request(addr, "POST", "/api/jobs/wordcount/cancel", &host, &[]);
    assert_eq!(refused.status, 403);
    let guessed = request(
        addr,
        "POST",
        "/api/jobs/wordcount/cancel",
        &host,
        &[("X-Shoal-Token", "guess")],
    );
    assert_eq!(guessed.status, 403);
    assert_eq!(
        request(addr, "GET", "/api/jobs/wordcount/cancel", &host, &[]).status,
        405
    );
}
