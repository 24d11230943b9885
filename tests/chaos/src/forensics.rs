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

/// `XLEN` and `XPENDING` summaries of every task stream (one per job
/// fingerprint, listed in `shoal:queues`).
fn pending(coord: &str) -> String {
    let mut control = match Control::open(coord, Duration::from_secs(3), Duration::from_secs(3)) {
        Ok(control) => control,
        Err(e) => return format!("\n    no control plane: {e}"),
    };
    let streams: Vec<String> = control
        .run("SMEMBERS queues", Duration::ZERO, |c| {
            redis::cmd("SMEMBERS").arg("shoal:queues").query(c)
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
        let length = control
            .run("XLEN", Duration::ZERO, |c| {
                redis::cmd("XLEN").arg(&stream).query::<u64>(c)
            })
            .map_or_else(|e| e.to_string(), |n| n.to_string());
        text.push_str(&format!(
            "\n    {stream}: {length} entries; XPENDING workers: {summary}"
        ));
    }
    text
}
