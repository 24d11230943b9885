//! Looking into the task stream from outside: which task attempts are
//! queued (or claimed and not yet done), read through the protocol's one
//! decoder — for tools and tests that must not parse Redis replies
//! themselves.

use std::time::Duration;

use crate::control::Control;
use crate::protocol::TaskEntry;
use crate::reply::range_entries;
use crate::{keys, ClusterError};

/// A task attempt in the task stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The stream entry's id (what `XDEL` or `XPENDING` name).
    pub entry_id: String,
    /// The attempt it asks for.
    pub task: TaskEntry,
}

/// The newest `count` entries of the task stream, newest first: attempts
/// waiting for a worker or claimed by one and not yet done (finished
/// entries are deleted at once).
///
/// # Errors
/// When Redis cannot be reached or an entry does not decode.
pub fn queued_tasks(url: &str, count: usize) -> Result<Vec<QueuedTask>, ClusterError> {
    let mut control = Control::open(url, Duration::from_secs(3), Duration::from_secs(3))?;
    let reply: redis::Value = control.run("XREVRANGE tasks", Duration::ZERO, |c| {
        redis::cmd("XREVRANGE")
            .arg(keys::TASKS)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query(c)
    })?;
    range_entries("XREVRANGE tasks", &reply)?
        .into_iter()
        .map(|entry| {
            let task = TaskEntry::decode(keys::TASKS, &entry)?;
            Ok(QueuedTask {
                entry_id: entry.id,
                task,
            })
        })
        .collect()
}
