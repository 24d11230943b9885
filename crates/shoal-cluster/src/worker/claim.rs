//! Claiming task entries from every task stream this worker reads.
//!
//! A worker reads one task stream per job it holds (routing by
//! capability). XREADGROUP over several streams bounds its COUNT per
//! stream, not in all, so one read can claim up to COUNT from each stream
//! that has work. How much that matters depends on the tasks:
//!
//! - **Tiny tasks** (the worker's pace says so): one blocking XREADGROUP
//!   over all streams with COUNT = what the pace allows — one round trip,
//!   as cheap as a single stream. Claiming more when two jobs queue at once
//!   is harmless: the surplus is a few milliseconds of work.
//! - **Long or unknown tasks**: an entry claimed beyond the free slots
//!   waits behind a long task while another worker may idle, so the claim
//!   is exact: a small script reads the streams in turn until the total is
//!   reached (one round trip; the script's cost, about two microseconds of
//!   Redis time per entry, is nothing next to a long task). The stream read
//!   first rotates from claim to claim, so a busy job cannot starve another.
//!   Only when nothing waits does the worker block, on all its streams at
//!   once, for at most one entry per stream.

use std::time::Duration;

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

    /// Claims entries for `count` free places: exactly at most `count`
    /// when `exact` (long or unknown tasks), else up to `count` per stream.
    /// Blocks up to [`BLOCK_MS`] while nothing waits.
    pub(super) fn claim(
        &mut self,
        control: &mut Control,
        consumer: &str,
        count: usize,
        exact: bool,
    ) -> Result<Vec<StreamEntries>, ClusterError> {
        if !exact {
            return self.read(control, consumer, count);
        }
        let claimed = self.claim_exactly(control, consumer, count)?;
        match claimed.iter().all(|b| b.entries.is_empty()) {
            true => self.read(control, consumer, 1),
            false => Ok(claimed),
        }
    }

    /// Claims at most `count` waiting entries in all, without blocking.
    fn claim_exactly(
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
        let reply = control.run("claim tasks", Duration::ZERO, |c| {
            let mut call = self.script.prepare_invoke();
            for stream in &order {
                call.key(*stream);
            }
            call.arg(keys::GROUP)
                .arg(consumer)
                .arg(count)
                .invoke::<redis::Value>(c)
        })?;
        stream_batches("claim tasks", reply)
    }

    /// One XREADGROUP over every stream, up to `count` entries from each,
    /// blocking up to [`BLOCK_MS`] while none has any.
    fn read(
        &mut self,
        control: &mut Control,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<StreamEntries>, ClusterError> {
        if self.streams.is_empty() {
            std::thread::sleep(Duration::from_millis(BLOCK_MS));
            return Ok(Vec::new());
        }
        let blocking = Duration::from_millis(BLOCK_MS);
        let reply = control.run("XREADGROUP", blocking, |c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(keys::GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(count)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&self.streams)
                .arg(vec![">"; self.streams.len()])
                .query::<redis::Value>(c)
        })?;
        stream_batches("XREADGROUP", reply)
    }
}

#[cfg(test)]
mod tests {
    use shoal_testkit::RedisServer;

    use super::*;
    use crate::worker::test_streams::{connect, fill};

    fn count(batches: &[StreamEntries]) -> Vec<(String, usize)> {
        batches
            .iter()
            .map(|b| (b.key.clone(), b.entries.len()))
            .collect()
    }

    #[test]
    fn an_exact_claim_takes_at_most_its_count_across_all_streams_starting_one_further_each_time() {
        let redis = RedisServer::start();
        let mut control = connect(&redis);
        let jobs = ["a@1".to_string(), "b@1".to_string(), "c@1".to_string()];
        let mut claimer = Claimer::new(&jobs);
        fill(&mut control, &keys::tasks("a@1"), 4);
        fill(&mut control, &keys::tasks("b@1"), 4);
        control.ensure_group(&keys::tasks("c@1")).unwrap();

        let first = claimer.claim(&mut control, "w", 6, true).unwrap();
        assert_eq!(
            count(&first),
            [("shoal:tasks:a@1".into(), 4), ("shoal:tasks:b@1".into(), 2)]
        );
        // The next claim starts at b: what is left of it, then c (empty), then a (empty).
        let second = claimer.claim(&mut control, "w", 6, true).unwrap();
        assert_eq!(count(&second), [("shoal:tasks:b@1".into(), 2)]);

        // Nothing waits: the claim blocks a while and comes back empty.
        let idle = claimer.claim(&mut control, "w", 6, true).unwrap();
        assert!(
            count(&idle).iter().all(|(_, n)| *n == 0),
            "{:?}",
            count(&idle)
        );
        // A worker that holds no job reads nothing.
        let none = Claimer::new(&[]).claim(&mut control, "w", 6, true).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn a_cheap_claim_takes_up_to_its_count_from_every_stream_in_one_read() {
        let redis = RedisServer::start();
        let mut control = connect(&redis);
        let jobs = ["a@1".to_string(), "b@1".to_string()];
        let mut claimer = Claimer::new(&jobs);
        fill(&mut control, &keys::tasks("a@1"), 4);
        fill(&mut control, &keys::tasks("b@1"), 2);
        let got = claimer.claim(&mut control, "w", 3, false).unwrap();
        assert_eq!(
            count(&got),
            [("shoal:tasks:a@1".into(), 3), ("shoal:tasks:b@1".into(), 2)]
        );
    }
}
