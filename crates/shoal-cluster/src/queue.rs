//! Looking into the task streams from outside: which task attempts are
//! queued (or claimed and not yet done), read through the protocol's one
//! decoder — for tools and tests that must not parse Redis replies
//! themselves.

use std::time::Duration;

use crate::control::Control;
use crate::protocol::TaskEntry;
use crate::reply::range_entries;
use crate::{keys, ClusterError};

/// A task attempt in a task stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The task stream holding it: its job's (`shoal:tasks:NAME@VERSION`).
    pub stream: String,
    /// The stream entry's id (what `XDEL` or `XPENDING` name).
    pub entry_id: String,
    /// The attempt it asks for.
    pub task: TaskEntry,
}

/// The newest `count` entries of all task streams together, newest first:
/// attempts waiting for a worker or claimed by one and not yet done
/// (finished entries are deleted at once).
///
/// # Errors
/// When Redis cannot be reached or an entry does not decode.
pub fn queued_tasks(url: &str, count: usize) -> Result<Vec<QueuedTask>, ClusterError> {
    let mut control = Control::open(url, Duration::from_secs(3), Duration::from_secs(3))?;
    let streams: Vec<String> = control.run("SMEMBERS queues", Duration::ZERO, |c| {
        redis::cmd("SMEMBERS").arg(keys::QUEUES).query(c)
    })?;
    let mut queued = Vec::new();
    for stream in streams {
        let reply: redis::Value = control.run("XREVRANGE tasks", Duration::ZERO, |c| {
            redis::cmd("XREVRANGE")
                .arg(&stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count)
                .query(c)
        })?;
        for entry in range_entries("XREVRANGE tasks", reply)? {
            let task = TaskEntry::decode(&stream, &entry)?;
            queued.push(QueuedTask {
                stream: stream.clone(),
                entry_id: entry.id,
                task,
            });
        }
    }
    queued.sort_by_key(|q| std::cmp::Reverse(entry_order(&q.entry_id)));
    queued.truncate(count);
    Ok(queued)
}

/// A stream entry id (`MS-SEQ`) as numbers, which order entries by time
/// across streams.
fn entry_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::entry_order;

    #[test]
    fn entry_ids_order_by_time_then_sequence_not_as_text() {
        assert!(entry_order("10-0") > entry_order("9-5"));
        assert!(entry_order("10-2") > entry_order("10-1"));
    }
}
