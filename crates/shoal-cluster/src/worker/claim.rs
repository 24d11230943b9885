//! Claiming task entries from every task stream this worker reads.
//!
//! A worker reads one task stream per job it holds (routing by
//! capability), but it must claim no more entries in all than its free
//! slots and pace allow: an entry claimed is an entry no idle worker can
//! run. XREADGROUP's COUNT bounds each stream separately, so a claim is a
//! small script that reads the streams in turn until the total is
//! reached — one round trip, however many streams. The first stream read
//! rotates from claim to claim, so a busy job cannot starve another.
//!
//! Only when nothing is waiting does the worker block, on all its streams
//! at once, for at most one entry per stream: whichever job's tasks come
//! first wake it.

use redis::Script;

use crate::control::Control;
use crate::keys;
use crate::reply::{stream_batches, StreamEntries};
use crate::ClusterError;

/// Reads the streams in KEYS in order, up to ARGV[3] entries in all, for
/// consumer ARGV[2] of group ARGV[1]; replies like XREADGROUP (RESP2).
const CLAIM: &str = r"
local want = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  if want <= 0 then break end
  local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want, 'STREAMS', KEYS[i], '>')
  if got then
    want = want - #got[1][2]
    out[#out + 1] = got[1]
  end
end
return out
";

/// How long one blocking wait lasts (ms), so the stop flag is seen.
const BLOCK_MS: u64 = 500;

/// The task streams of one worker and the claim script.
pub(super) struct Claimer {
    streams: Vec<String>,
    /// Index of the stream read first by the next claim.
    next: usize,
    script: Script,
}

impl Claimer {
    /// Claims from the task streams of jobs with these fingerprints.
    pub(super) fn new(fingerprints: &[String]) -> Claimer {
        Claimer {
            streams: fingerprints.iter().map(|f| keys::tasks(f)).collect(),
            next: 0,
            script: Script::new(CLAIM),
        }
    }

    /// The task streams, for creating their groups.
    pub(super) fn streams(&self) -> &[String] {
        &self.streams
    }

    /// Claims up to `count` waiting entries across all streams, without blocking.
    pub(super) fn claim(
        &mut self,
        control: &mut Control,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<StreamEntries>, ClusterError> {
        if self.streams.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.next % self.streams.len();
        self.next = first + 1;
        let order: Vec<&String> = self.streams[first..]
            .iter()
            .chain(&self.streams[..first])
            .collect();
        let reply = control.run("claim tasks", std::time::Duration::ZERO, |c| {
            let mut call = self.script.prepare_invoke();
            for stream in &order {
                call.key(*stream);
            }
            call.arg(keys::GROUP)
                .arg(consumer)
                .arg(count)
                .invoke::<redis::Value>(c)
        })?;
        stream_batches("claim tasks", &reply)
    }

    /// Waits up to [`BLOCK_MS`] for an entry on any stream; claims at most
    /// one per stream.
    pub(super) fn wait(
        &mut self,
        control: &mut Control,
        consumer: &str,
    ) -> Result<Vec<StreamEntries>, ClusterError> {
        if self.streams.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(BLOCK_MS));
            return Ok(Vec::new());
        }
        let blocking = std::time::Duration::from_millis(BLOCK_MS);
        let reply = control.run("XREADGROUP", blocking, |c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(keys::GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&self.streams)
                .arg(vec![">"; self.streams.len()])
                .query::<redis::Value>(c)
        })?;
        stream_batches("XREADGROUP", &reply)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shoal_coord::test_support::RedisServer;

    use super::*;

    fn fill(control: &mut Control, stream: &str, entries: usize) {
        control.ensure_group(stream).unwrap();
        control
            .run("XADD", Duration::ZERO, |c| {
                let mut pipe = redis::pipe();
                for i in 0..entries {
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

    fn count(batches: &[StreamEntries]) -> Vec<(String, usize)> {
        batches
            .iter()
            .map(|b| (b.key.clone(), b.entries.len()))
            .collect()
    }

    #[test]
    fn a_claim_takes_at_most_its_count_across_all_streams_starting_one_further_each_time() {
        let redis = RedisServer::start();
        let mut control =
            Control::open(&redis.url(), Duration::from_secs(5), Duration::from_secs(5)).unwrap();
        let jobs = ["a@1".to_string(), "b@1".to_string(), "c@1".to_string()];
        let mut claimer = Claimer::new(&jobs);
        fill(&mut control, &keys::tasks("a@1"), 4);
        fill(&mut control, &keys::tasks("b@1"), 4);
        control.ensure_group(&keys::tasks("c@1")).unwrap();

        let first = claimer.claim(&mut control, "w", 6).unwrap();
        assert_eq!(
            count(&first),
            [("shoal:tasks:a@1".into(), 4), ("shoal:tasks:b@1".into(), 2)]
        );
        // The next claim starts at b: what is left of it, then c (empty), then a (empty).
        let second = claimer.claim(&mut control, "w", 6).unwrap();
        assert_eq!(count(&second), [("shoal:tasks:b@1".into(), 2)]);
        assert!(claimer.claim(&mut control, "w", 6).unwrap().is_empty());

        // Idle: a wait returns at most one entry per stream that has any.
        fill(&mut control, &keys::tasks("c@1"), 3);
        let woken = claimer.wait(&mut control, "w").unwrap();
        assert_eq!(count(&woken), [("shoal:tasks:c@1".into(), 1)]);
        // A worker that holds no job reads nothing, and says so at once.
        assert!(Claimer::new(&[])
            .claim(&mut control, "w", 6)
            .unwrap()
            .is_empty());
    }
}
