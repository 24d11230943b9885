//! What the control plane says about a stuck job, captured before its
//! driver is killed, so a hang's report shows where it stood.

use std::time::Duration;

use shoal_cluster::{cluster_status, Control};

/// The cluster's status and every task stream's pending entries by
/// consumer, as text (or why they could not be read).
pub fn snapshot(coord: &str) -> String {
    let mut text = String::new();
    match cluster_status(coord, 5) {
        Ok(status) => {
            for job in &status.jobs {
                text.push_str(&format!(
                    "\n    job {} ({}): {}, stage {} of {}, {}/{} done, {} failed attempts {}",
                    job.id,
                    job.job,
                    job.state,
                    job.stage,
                    job.stages,
                    job.done,
                    job.total,
                    job.failures,
                    job.error
                ));
            }
            for w in &status.workers {
                text.push_str(&format!(
                    "\n    worker {}: {} running, last heartbeat {} ms ago",
                    w.name, w.running, w.last_heartbeat_ms
                ));
            }
        }
        Err(e) => text.push_str(&format!("\n    no status: {e}")),
    }
    text.push_str(&pending(coord));
    text
}

/// `XPENDING` summaries of every `shoal:tasks*` stream.
fn pending(coord: &str) -> String {
    let mut control = match Control::open(coord, Duration::from_secs(3), Duration::from_secs(3)) {
        Ok(control) => control,
        Err(e) => return format!("\n    no control plane: {e}"),
    };
    let streams: Vec<String> = control
        .run("KEYS tasks", Duration::ZERO, |c| {
            redis::cmd("KEYS").arg("shoal:tasks*").query(c)
        })
        .unwrap_or_default();
    let mut text = String::new();
    for stream in streams {
        let summary = control.run("XPENDING", Duration::ZERO, |c| {
            redis::cmd("XPENDING")
                .arg(&stream)
                .arg("workers")
                .query::<redis::Value>(c)
        });
        let summary = match summary {
            Ok(value) => format!("{value:?}"),
            Err(e) => e.to_string(),
        };
        text.push_str(&format!("\n    XPENDING {stream} workers: {summary:?}"));
    }
    text
}
