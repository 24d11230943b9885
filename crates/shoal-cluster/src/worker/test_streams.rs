//! Task streams for the worker's unit tests: a control connection to a
//! test Redis, entries added to a stream, entries delivered to a consumer
//! as a claim would, and the entries left pending.

use std::time::Duration;

use redis::Value;
use shoal_testkit::RedisServer;

use super::claim::Claimer;
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

/// Adds `count` entries to `stream` and delivers them to `consumer` the
/// way its claims do ([`Claimer`]), leaving them pending under its name;
/// returns their ids.
pub(super) fn deliver(
    control: &mut Control,
    stream: &str,
    consumer: &str,
    count: usize,
) -> Vec<String> {
    fill(control, stream, count);
    Claimer::new(&[keys::fingerprint_of_tasks(stream).to_string()])
        .claim(control, consumer, count, true)
        .unwrap()
        .into_iter()
        .flat_map(|batch| batch.entries)
        .map(|e| e.id)
        .collect()
}

/// The first `count` entries pending in `stream` (`XPENDING key group - +
/// count [consumer]`), under `consumer` only when one is named: each
/// entry's id and how often it was delivered.
pub(super) fn pending_entries(
    control: &mut Control,
    stream: &str,
    count: usize,
    consumer: Option<&str>,
) -> Vec<(String, u64)> {
    let reply: Value = control
        .run("XPENDING", Duration::ZERO, |c| {
            redis::cmd("XPENDING")
                .arg(stream)
                .arg(keys::GROUP)
                .arg("-")
                .arg("+")
                .arg(count)
                .arg(consumer)
                .query(c)
        })
        .unwrap();
    let Value::Array(entries) = reply else {
        panic!("XPENDING: {reply:?}")
    };
    entries
        .iter()
        .map(|e| match e {
            Value::Array(f) => match (&f[0], &f[3]) {
                (Value::BulkString(id), Value::Int(n)) => {
                    (String::from_utf8_lossy(id).into_owned(), *n as u64)
                }
                other => panic!("XPENDING entry: {other:?}"),
            },
            other => panic!("XPENDING entry: {other:?}"),
        })
        .collect()
}
