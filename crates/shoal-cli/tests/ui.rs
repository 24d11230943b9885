//! The dashboard end to end: `shoal ui` on a real cluster (Redis on
//! loopback, two `shoal worker` processes) looked at by headless Chromium,
//! `/metrics` of the ui and of every worker checked by `promtool` and
//! against known work, the security rules, and `--ui` on an embedded run.
//! Every wait polls a real condition under a deadline.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shoal_testkit::{eventually, wait_for_status, RedisServer, WorkerSpec, Workers};

mod common;
use common::{shoal_cmd, SHOAL};

#[path = "../../shoal-ui/tests/common/mod.rs"]
mod http;

const DEADLINE: Duration = Duration::from_secs(60);

/// A process whose stderr lines are collected, killed on drop.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shoal");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `marker` and returns the URL on it.
    fn url_after(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(marker) {
                        let url = line.split_whitespace().find(|w| w.starts_with("http://"));
                        return url.expect("a URL on the line").to_string();
                    }
                }
                Err(_) => panic!("no line with {marker:?}; stderr so far: {:?}", self.seen),
            }
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `http://127.0.0.1:PORT/…` → the socket address.
fn addr_of(url: &str) -> SocketAddr {
    let rest = url.trim_start_matches("http://");
    rest.split('/').next().unwrap().parse().expect("host:port")
}

/// Redis, a store directory, two workers (with `/metrics`) and `shoal ui`.
struct Cluster {
    // Workers stop before the server they talk to.
    _workers: Workers,
    _redis: RedisServer,
    coord: String,
    dir: tempfile::TempDir,
    worker_metrics: Vec<SocketAddr>,
}

impl Cluster {
    fn start(coord_of: impl Fn(&RedisServer) -> String) -> Cluster {
        let redis = RedisServer::start();
        let coord = coord_of(&redis);
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store").display().to_string();
        let spec = WorkerSpec::new(SHOAL, &coord, &store, dir.path());
        let extra = ["--metrics", "127.0.0.1:0", "--heartbeat-ttl", "3s"];
        let workers = Workers::start(spec.args(extra), 2);
        let worker_metrics = ["w0", "w1"]
            .iter()
            .map(|name| addr_of(&url_in_log(&workers.spec().log_path(name), "metrics at")))
            .collect();
        Cluster {
            _workers: workers,
            _redis: redis,
            coord,
            dir,
            worker_metrics,
        }
    }

    fn store(&self) -> String {
        self.dir.path().join("store").display().to_string()
    }

    fn ui(&self, extra: &[&str]) -> (Proc, String) {
        let mut args = vec!["ui", "--coord", &self.coord, "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut ui = Proc::spawn(shoal_cmd(&args, &[]));
        let url = ui.url_after("dashboard of");
        (ui, url)
    }

    /// Starts `shoal run noop` with these parameters on the cluster.
    fn noop(&self, params: &str) -> Proc {
        let store = self.store();
        let args = [
            "run",
            "noop",
            "--params",
            params,
            "--coord",
            &self.coord,
            "--store",
            &store,
        ];
        Proc::spawn(shoal_cmd(&args, &[]))
    }

    /// The id of the job the cluster runs (or ran) most recently.
    fn job_id(&self) -> String {
        eventually(DEADLINE, "a job to appear", || {
            let status = shoal_cluster::cluster_status(&self.coord, 1).expect("status");
            status.jobs.first().map(|job| job.id.clone())
        })
    }
}

/// Polls `log` until a line holds `marker`, and returns the URL on it.
fn url_in_log(log: &Path, marker: &str) -> String {
    let what = format!("{marker:?} in {}", log.display());
    eventually(DEADLINE, &what, || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        match text.lines().find(|l| l.contains(marker)) {
            Some(line) => {
                let url = line.split_whitespace().find(|w| w.starts_with("http://"));
                Ok(url.expect("URL").to_string())
            }
            None => Err(text),
        }
    })
}

/// Runs headless Chromium with a fresh profile and returns its stdout.
fn chromium(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("90")
        .arg("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("run /usr/bin/chromium (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DOM Chromium renders for `url` (after the page's scripts ran).
fn rendered(url: &str) -> String {
    chromium(&["--dump-dom", url])
}

/// Renders `url` until `holds(dom)`, failing with the last DOM at the deadline.
fn rendered_until(url: &str, what: &str, holds: impl Fn(&str) -> bool) -> String {
    eventually(DEADLINE, &format!("{what} at {url}"), || {
        let dom = rendered(url);
        if holds(&dom) {
            Ok(dom)
        } else {
            Err(dom)
        }
    })
}

/// Where screenshots are kept for people to look at.
fn screenshot(url: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    chromium(&[
        &format!("--screenshot={}", path.display()),
        "--window-size=1400,1000",
        url,
    ]);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        path.display()
    );
    eprintln!("screenshot: {}", path.display());
    path
}

#[test]
fn chromium_shows_workers_the_running_job_and_its_timeline() {
    let cluster = Cluster::start(RedisServer::url);
    let (_ui, url) = cluster.ui(&[]);
    // 4 slots over 2 workers, 240 tasks of 50 ms: about 3 s of work.
    let mut job = cluster.noop(r#"{"tasks": 240, "sleep_ms": 50}"#);
    let id = cluster.job_id();
    let dom = rendered_until(&url, "both workers and the running job", |dom| {
        dom.contains("data-worker=\"w0\"")
            && dom.contains("data-worker=\"w1\"")
            && dom.contains(&format!("data-job=\"{id}\" data-state=\"running\""))
            && dom.contains("<progress")
    });
    assert!(dom.contains("noop"), "{dom}");
    screenshot(&url, "overview.png");
    let page = format!("{url}jobs/{id}");
    let dom = rendered_until(&page, "the timeline with both workers' lanes", |dom| {
        dom.contains("class=\"chart timeline\"") && dom.contains("data-drawn=\"2 lanes\"")
    });
    assert!(
        dom.contains("<td>w0</td>") && dom.contains("<td>w1</td>"),
        "{dom}"
    );
    screenshot(&page, "job.png");
    let status = job.child.wait().unwrap();
    assert!(status.success());
}

/// Sum of the samples of `family` whose labels include every `labels` pair.
fn metric_sum(text: &str, family: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `promtool check metrics` accepts `text`.
fn promtool_accepts(text: &str, what: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (scripts/test.sh installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejects the metrics of {what}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_of_the_ui_and_of_every_worker_count_a_thousand_task_job() {
    let cluster = Cluster::start(RedisServer::url);
    let (_ui, url) = cluster.ui(&[]);
    let mut job = cluster.noop(r#"{"tasks": 1000}"#);
    assert!(job.child.wait().unwrap().success());
    let done = [("job", "noop"), ("outcome", "done")];
    let ui_metrics = http::get(addr_of(&url), "/metrics").body;
    promtool_accepts(&ui_metrics, "shoal ui");
    assert_eq!(
        metric_sum(&ui_metrics, "shoal_tasks_total", &done),
        1000.0,
        "{ui_metrics}"
    );
    assert_eq!(
        metric_sum(
            &ui_metrics,
            "shoal_task_duration_seconds_count",
            &[("job", "noop")]
        ),
        1000.0
    );
    assert_eq!(metric_sum(&ui_metrics, "shoal_worker_slots", &[]), 4.0);
    assert_eq!(
        metric_sum(&ui_metrics, "shoal_jobs", &[("state", "succeeded")]),
        1.0
    );
    assert!(ui_metrics.contains("shoal_queue_pending_tasks"));
    // Workers count their own attempts; the last may still be on its way
    // into the counters when the job ends, so poll briefly.
    let texts = eventually(DEADLINE, "workers to count 1000 tasks", || {
        let texts: Vec<String> = cluster
            .worker_metrics
            .iter()
            .map(|addr| http::get(*addr, "/metrics").body)
            .collect();
        let total: f64 = texts
            .iter()
            .map(|t| metric_sum(t, "shoal_tasks_total", &done))
            .sum();
        if total == 1000.0 {
            Ok(texts)
        } else {
            Err((total, texts))
        }
    });
    for (i, text) in texts.iter().enumerate() {
        promtool_accepts(text, &format!("worker w{i}"));
        assert_eq!(metric_sum(text, "shoal_worker_slots", &[]), 2.0);
        assert!(text.contains("shoal_store_bytes_written_total"));
    }
    // A worker's endpoint serves nothing else and changes nothing.
    let w0 = cluster.worker_metrics[0];
    assert_eq!(http::get(w0, "/").status, 404);
    assert_eq!(
        http::request(w0, "POST", "/metrics", &w0.to_string(), &[]).status,
        405
    );
    assert_eq!(
        http::request(w0, "GET", "/metrics", "evil.example", &[]).status,
        403
    );
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused() {
    let out = shoal_cmd(
        &[
            "ui",
            "--coord",
            "redis://127.0.0.1:1",
            "--bind",
            "0.0.0.0:0",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--token-file"), "{stderr}");
}

#[test]
fn tokens_guard_viewing_and_cancelling_and_no_password_is_ever_served() {
    let password = "Pa55-w0rd-never-shown";
    let cluster = Cluster::start(|redis| {
        let port = redis.port().to_string();
        let acl = format!(">{password}");
        let status = Command::new("redis-cli")
            .args([
                "-p", &port, "ACL", "SETUSER", "shoal", "on", &acl, "~shoal:*", "&shoal:*",
                "+@all", "-@admin",
            ])
            .status()
            .expect("redis-cli");
        assert!(status.success());
        format!("redis://shoal:{password}@127.0.0.1:{port}")
    });
    let token = "token-for-the-ui-0123456789";
    let token_file = cluster.dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let token_arg = token_file.display().to_string();
    let (_ui, url) = cluster.ui(&["--token-file", &token_arg]);
    let addr = addr_of(&url);
    let host = addr.to_string();
    let mut job = cluster.noop(r#"{"tasks": 2000, "sleep_ms": 20}"#);
    let id = cluster.job_id();
    let bearer = format!("Bearer {token}");
    let with_token = [("Authorization", bearer.as_str())];
    for path in ["/", "/metrics", "/api/overview", &format!("/jobs/{id}")] {
        assert_eq!(
            http::get(addr, path).status,
            401,
            "{path} without the token"
        );
    }
    let mut served = String::new();
    for path in [
        "/".to_string(),
        "/metrics".into(),
        "/api/overview".into(),
        format!("/jobs/{id}"),
        format!("/api/jobs/{id}"),
        "/workers/w0".into(),
        "/api/workers/w0".into(),
    ] {
        let reply = http::request(addr, "GET", &path, &host, &with_token);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        served.push_str(&reply.body);
    }
    assert!(
        served.contains("redis://shoal:***@127.0.0.1"),
        "the source shows, redacted"
    );
    assert!(
        !served.contains(password),
        "a page or API response holds the Redis password"
    );
    let cancel = format!("/api/jobs/{id}/cancel");
    let refused = http::request(addr, "POST", &cancel, &host, &with_token);
    assert_eq!(
        refused.status, 403,
        "the bearer token alone does not cancel"
    );
    let wrong = [
        ("X-Shoal-Token", "not-the-token-000000"),
        ("Authorization", bearer.as_str()),
    ];
    assert_eq!(
        http::request(addr, "POST", &cancel, &host, &wrong).status,
        403
    );
    let right = [("X-Shoal-Token", token), ("Authorization", bearer.as_str())];
    let cancelled = http::request(addr, "POST", &cancel, &host, &right);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let status = job.child.wait().unwrap();
    assert!(!status.success(), "a cancelled job does not succeed");
    wait_for_status(
        &cluster.coord,
        DEADLINE,
        "the job to show as cancelled",
        |s| s.jobs.iter().any(|j| j.id == id && j.state == "cancelled"),
    );
}

#[test]
fn an_embedded_run_serves_its_job_page_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let gen = shoal_cmd(
        &[
            "gen",
            events.to_str().unwrap(),
            "--events",
            "400000",
            "--files",
            "4",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let mut cmd = Command::new(SHOAL);
    cmd.args([
        "analyze",
        events.to_str().unwrap(),
        "--threads",
        "1",
        "--ui=127.0.0.1:0",
    ]);
    let mut run = Proc::spawn(cmd);
    let url = run.url_after("dashboard at");
    let addr = addr_of(&url);
    let path = url
        .trim_start_matches(&format!("http://{addr}"))
        .to_string();
    let page = eventually(DEADLINE, "the stages on the page", || {
        let page = http::get(addr, &path);
        if page.status == 200 && page.body.contains("<td>read</td>") {
            return Ok(page);
        }
        assert!(
            run.alive(),
            "the run ended before its page showed its stages"
        );
        Err(page.body)
    });
    assert!(page.body.contains("<h1>analyze"), "{}", page.body);
    assert!(page.body.contains("badge running"), "seen while it runs");
    assert!(run.child.wait().unwrap().success());
}
