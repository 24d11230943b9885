//! [`CoordBackend`] on Redis: the lease steps delegate to `lease_ops.rs`;
//! counters and key-value are marshalled here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::{AsyncCommands, Value};
use tokio::sync::Notify;

use super::lease_ops::versioned;
use super::scripts::{COMMIT, KV_CAS, KV_PUT, KV_PUT_FENCED};
use super::{kv_key, wake_payload, RedisBackend};
use crate::backend::{Attempt, Conflict, CoordBackend, Release, Released, TxWrite};
use crate::error::Result;
use crate::kv::{CasOutcome, Versioned};
use crate::lease::{Acquire, LeaseKind, OwnerId};
use crate::validate::millis;

/// A key-value hash's `HMGET v n` reply.
type StoredPair = (Option<Vec<u8>>, Option<u64>);

/// The entry behind an `HMGET v n` reply; `None` if absent.
fn stored((value, version): StoredPair) -> Option<Versioned> {
    match (value, version) {
        (Some(value), Some(version)) => Some(Versioned {
            value: Bytes::from(value),
            version,
        }),
        _ => None,
    }
}

impl CoordBackend for RedisBackend {
    async fn acquire(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
        self.acquire_lease(attempt).await
    }

    async fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        self.renew_lease(kind, name, owner, ttl).await
    }

    async fn release(&self, release: &Release<'_>) -> Result<Released> {
        self.release_lease(release).await
    }

    async fn abandon_wait(&self, kind: LeaseKind, name: &str, owner: OwnerId) -> Result<()> {
        self.leave_queue(kind, name, owner).await
    }

    fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify> {
        self.wake.handle(wake_payload(kind, name))
    }

    async fn counter_add(&self, name: &str, delta: i64) -> Result<i64> {
        let mut conn = self.conn();
        let key = format!("shoal:ctr:{name}");
        self.run("counter add", &[], conn.incr(&key, delta)).await
    }

    async fn counter_get(&self, name: &str) -> Result<i64> {
        let mut conn = self.conn();
        let key = format!("shoal:ctr:{name}");
        let value: Option<i64> = self.run("counter get", &[], conn.get(&key)).await?;
        Ok(value.unwrap_or(0))
    }

    async fn kv_get(&self, key: &str) -> Result<Option<Versioned>> {
        let mut conn = self.conn();
        let rkey = kv_key(key);
        let found: StoredPair = self
            .run("kv get", &[], conn.hmget(&rkey, &["v", "n"]))
            .await?;
        Ok(stored(found))
    }

    async fn kv_get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>> {
        match keys {
            [] => return Ok(Vec::new()),
            [key] => return Ok(vec![self.kv_get(key).await?]),
            _ => {}
        }
        let mut conn = self.conn();
        // A pipeline, not a script: plain reads cost the server far less
        // than a Lua call, and callers that need the reads to agree
        // (transactions) check their versions when they commit.
        let mut reads = redis::pipe();
        for key in keys {
            reads.hmget(kv_key(key), &["v", "n"]);
        }
        let found: Vec<StoredPair> = self
            .run("kv get", &[], reads.query_async(&mut conn))
            .await?;
        Ok(found.into_iter().map(stored).collect())
    }

    async fn kv_put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        let mut conn = self.conn();
        let mut call = KV_PUT.key(kv_key(key));
        call.arg(value.as_ref()).arg(ttl.map_or(0, millis));
        self.run("kv put", &[], call.invoke_async(&mut conn)).await
    }

    async fn kv_delete(&self, key: &str) -> Result<bool> {
        let mut conn = self.conn();
        let removed: i64 = self
            .run("kv delete", &[], conn.hdel(kv_key(key), &["v", "n"]))
            .await?;
        Ok(removed > 0)
    }

    async fn kv_cas(&self, key: &str, expected: Option<u64>, new: TxWrite) -> Result<CasOutcome> {
        let op = "kv compare-and-set";
        let mut conn = self.conn();
        let mut call = KV_CAS.key(kv_key(key));
        call.arg(expected.unwrap_or(0).to_string());
        match &new {
            Some((value, ttl)) => call.arg("p").arg(value.as_ref()).arg(ttl.map_or(0, millis)),
            None => call.arg("d").arg("").arg(0),
        };
        let reply: Vec<i64> = self.run(op, &[], call.invoke_async(&mut conn)).await?;
        let version = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
        match reply[..] {
            [1, v] => Ok(CasOutcome::Applied(version(v))),
            [0, v] => Ok(CasOutcome::Mismatch(version(v))),
            _ => Err(self.protocol(op, "expected {applied, version}")),
        }
    }

    async fn kv_put_fenced(
        &self,
        key: &str,
        value: Bytes,
        lock: &str,
        token: u64,
    ) -> Result<std::result::Result<u64, u64>> {
        let op = "kv put_fenced";
        let mut conn = self.conn();
        let mut call = KV_PUT_FENCED.key(kv_key(key));
        call.arg(value.as_ref())
            .arg(format!("f:{lock}"))
            .arg(token.to_string());
        let reply: Vec<Value> = self.run(op, &[], call.invoke_async(&mut conn)).await?;
        match &reply[..] {
            [Value::Int(1), Value::Int(version)] => Ok(Ok(*version as u64)),
            [Value::Int(0), Value::BulkString(newest)] => std::str::from_utf8(newest)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Err)
                .ok_or_else(|| self.protocol(op, "newest token is not a number")),
            _ => Err(self.protocol(op, "expected {accepted, version-or-token}")),
        }
    }

    async fn commit(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Result<Option<Conflict>> {
        let op = "transaction commit";
        let keys: Vec<String> = reads
            .iter()
            .map(|(k, _)| kv_key(k))
            .chain(writes.iter().map(|(k, _)| kv_key(k)))
            .collect();
        let mut call = COMMIT.prepare_invoke();
        for key in &keys {
            call.key(key);
        }
        call.arg(reads.len());
        for (_, version) in reads {
            call.arg(version.to_string());
        }
        for (_, write) in writes {
            match write {
                Some((value, ttl)) => call.arg("p").arg(value.as_ref()).arg(ttl.map_or(0, millis)),
                None => call.arg("d").arg("").arg(0),
            };
        }
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let reply: Vec<Value> = self
            .run(op, &key_refs, call.invoke_async(&mut self.conn()))
            .await?;
        let malformed = || self.protocol(op, "expected {0} or {conflict index, reads...}");
        match &reply[..] {
            [Value::Int(0)] => Ok(None),
            [Value::Int(index), current @ ..] if current.len() == 2 * reads.len() => {
                let key = usize::try_from(*index)
                    .ok()
                    .and_then(|i| reads.get(i.checked_sub(1)?))
                    .ok_or_else(malformed)?
                    .0
                    .clone();
                let current = current
                    .chunks(2)
                    .map(|pair| versioned(&pair[0], &pair[1]).ok_or_else(malformed))
                    .collect::<Result<_>>()?;
                Ok(Some(Conflict { key, current }))
            }
            _ => Err(malformed()),
        }
    }
}
