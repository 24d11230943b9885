//! Task streams for the worker's unit tests: a control connection to a
//! test Redis, entries added to a stream, entries delivered to a consumer
//! as a claim would.

use std::time::Duration;

use redis::Value;
use shoal_testkit::RedisServer;

use crate::control::Control;
use crate::keys;

/// A control connection to `redis`.
pub(super) fn connect(redis: &RedisServer) -> Control {
    Control::open(&redis.url(), Duration::from_secs(5), Duration::from_secs(5)).unwrap()
}

/// Adds `count` entries (`i` = 0, 1, …) to `stream`, creating its group.
pub(super) fn fill(control: &mut Control, stream: &str, count: usize) {
    control.ensure_group(stream).unwrap();
    control
        .run("XADD", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for i in 0..count {
                pipe.cmd("XADD")
                    .arg(stream)
                    .arg("*")
                    .arg("i")
                    .arg(i)
                    .ignore();
            }
            pipe.query::<()>(c)
        })
        .unwrap();
}

/// Adds `count` entries to `stream` and delivers them to `consumer`
/// (XREADGROUP), leaving them pending under its name; returns their ids.
pub(super) fn deliver(
    control: &mut Control,
    stream: &str,
    consumer: &str,
    count: usize,
) -> Vec<String> {
    fill(control, stream, count);
    let reply: Value = control
        .run("XREADGROUP", Duration::ZERO, |c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(keys::GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(stream)
                .arg(">")
                .query(c)
        })
        .unwrap();
    crate::reply::stream_entries("deliver", reply)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}
