//! Clearing the task stream of entries nobody will ever need.
//!
//! A worker that dies holding task entries leaves them in its pending
//! list. The job's driver reclaims the ones of its running job; entries of
//! jobs that have since ended (finished, cancelled, or abandoned by a dead
//! driver) would stay pending forever, and every driver would keep
//! checking that dead worker. Any driver that meets such entries clears
//! them.

use std::collections::HashMap;
use std::time::Duration;

use crate::control::Control;
use crate::protocol::TaskEntry;
use crate::reply::range_entries;
use crate::{keys, ClusterError};

/// Most entries examined per call, to keep one upkeep round short.
const MAX_EXAMINED: usize = 1000;

/// Acknowledges and deletes those of `ids` (pending entries of a lost
/// worker on task stream `stream`) whose job no longer runs, or that no
/// longer exist. Returns how many were cleared.
pub(crate) fn clear_dead_entries(
    control: &mut Control,
    stream: &str,
    ids: &[String],
) -> Result<usize, ClusterError> {
    let ids = &ids[..ids.len().min(MAX_EXAMINED)];
    if ids.is_empty() {
        return Ok(0);
    }
    let replies: Vec<redis::Value> = control.run("XRANGE pending", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("XRANGE").arg(stream).arg(id).arg(id);
        }
        pipe.query(c)
    })?;
    let mut job_of: HashMap<&str, String> = HashMap::new();
    for (id, reply) in ids.iter().zip(replies) {
        if let Some(entry) = range_entries("XRANGE pending", reply)?.into_iter().next() {
            // An entry nobody can read is dead too (no job keeps it).
            let job =
                TaskEntry::decode(stream, &entry).map_or_else(|_| String::new(), |t| t.job_id);
            job_of.insert(id, job);
        }
    }
    let mut jobs: Vec<&String> = job_of.values().collect();
    jobs.sort();
    jobs.dedup();
    let liveness: Vec<(bool, Option<String>)> =
        control.run("job liveness", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for job in &jobs {
                pipe.cmd("EXISTS")
                    .arg(keys::job_alive(job))
                    .cmd("HGET")
                    .arg(keys::job(job))
                    .arg("state");
            }
            pipe.query::<Vec<(bool, Option<String>)>>(c)
        })?;
    let running: Vec<&String> = jobs
        .iter()
        .zip(&liveness)
        .filter(|(_, (alive, state))| *alive && state.as_deref() == Some("running"))
        .map(|(job, _)| *job)
        .collect();
    let dead: Vec<&String> = ids
        .iter()
        .filter(|id| {
            job_of
                .get(id.as_str())
                .is_none_or(|job| !running.contains(&job))
        })
        .collect();
    if dead.is_empty() {
        return Ok(0);
    }
    retire_entries(control, stream, &dead)?;
    Ok(dead.len())
}

/// Acknowledges and deletes entries of task stream `stream`: they leave
/// the pending list of whoever held them, and the stream.
pub(crate) fn retire_entries<T: redis::ToRedisArgs>(
    control: &mut Control,
    stream: &str,
    ids: &[T],
) -> Result<(), ClusterError> {
    control.run("XACK+XDEL", Duration::ZERO, |c| {
        redis::pipe()
            .cmd("XACK")
            .arg(stream)
            .arg(keys::GROUP)
            .arg(ids)
            .ignore()
            .cmd("XDEL")
            .arg(stream)
            .arg(ids)
            .ignore()
            .query::<()>(c)
    })
}
