//! [`CoordBackend`] on Redis: argument marshalling around the scripts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::{AsyncCommands, Value};
use tokio::sync::Notify;

use super::lease_scripts::{
    MEMBER_RELEASE, MEMBER_RENEW, MUTEX_ACQUIRE, OWNER_RELEASE, OWNER_RENEW, RW_ACQUIRE,
    SEM_ACQUIRE,
};
use super::scripts::{COMMIT, KV_CAS, KV_PUT, KV_PUT_FENCED};
use super::{kv_key, lease_base, wake_payload, RedisBackend};
use crate::backend::{Attempt, Conflict, CoordBackend, Release, Released, TxWrite};
use crate::error::Result;
use crate::kv::{CasOutcome, Versioned};
use crate::lease::{Acquire, LeaseKind, OwnerId};
use crate::validate::millis;

/// Where a lease's ownership lives: a string key (mutex, writer) or a
/// member of a sorted set (permit, reader).
enum Holder {
    Owner(String),
    Member(String),
}

fn holder(kind: LeaseKind, name: &str) -> Holder {
    let base = lease_base(kind, name);
    match kind {
        LeaseKind::Mutex => Holder::Owner(base),
        LeaseKind::Semaphore { .. } => Holder::Member(base),
        LeaseKind::Read => Holder::Member(format!("{base}:r")),
        LeaseKind::Write => Holder::Owner(format!("{base}:w")),
    }
}

impl RedisBackend {
    /// Reads an acquire script's reply: `{1, token, value, version, ...}`
    /// or `{0, ms until the hold ends}`.
    fn grant(&self, op: &'static str, reply: Vec<Value>, reads: usize) -> Result<Acquire> {
        let malformed = || self.protocol(op, "expected {granted, token-or-ttl, reads...}");
        match &reply[..] {
            [Value::Int(1), Value::Int(token), rest @ ..] if rest.len() == 2 * reads => {
                let reads = rest
                    .chunks(2)
                    .map(|pair| versioned(&pair[0], &pair[1]).ok_or_else(malformed))
                    .collect::<Result<_>>()?;
                Ok(Acquire::Granted {
                    token: *token as u64,
                    reads,
                })
            }
            [Value::Int(0), Value::Int(rest)] => Ok(Acquire::Busy(
                u64::try_from(*rest).ok().map(Duration::from_millis),
            )),
            _ => Err(malformed()),
        }
    }
}

/// A key read by a script (`HMGET v n`): `Some(None)` when absent, `None`
/// when the reply is not a value and a version.
fn versioned(value: &Value, version: &Value) -> Option<Option<Versioned>> {
    match (value, version) {
        (Value::BulkString(value), Value::BulkString(version)) => Some(Some(Versioned {
            value: Bytes::copy_from_slice(value),
            version: std::str::from_utf8(version).ok()?.parse().ok()?,
        })),
        (Value::Nil, _) | (_, Value::Nil) => Some(None),
        _ => None,
    }
}

impl CoordBackend for RedisBackend {
    async fn acquire(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
        let op = "lease acquire";
        let (kind, name, owner) = (attempt.kind, attempt.name, attempt.owner);
        let base = lease_base(kind, name);
        // Asking for the lease again settles the wake-up our last release
        // left pending: a grant makes us the holder whose release decides,
        // a refusal means another holder's release will.
        self.deferred.settle(&base);
        let mut call = match kind {
            LeaseKind::Mutex => MUTEX_ACQUIRE.key(&base),
            LeaseKind::Semaphore { .. } => SEM_ACQUIRE.key(&base),
            LeaseKind::Read | LeaseKind::Write => RW_ACQUIRE.key(format!("{base}:w")),
        };
        if matches!(kind, LeaseKind::Read | LeaseKind::Write) {
            call.key(format!("{base}:r"));
        }
        call.key(format!("{base}:t"))
            .key(format!("{base}:q"))
            .key(format!("{base}:s"));
        let read_keys: Vec<String> = attempt.reads.iter().map(|k| kv_key(k)).collect();
        for key in &read_keys {
            call.key(key);
        }
        call.arg(owner.hex()).arg(millis(attempt.ttl));
        match kind {
            LeaseKind::Semaphore { permits } => {
                call.arg(permits);
            }
            LeaseKind::Read => {
                call.arg("r");
            }
            LeaseKind::Write => {
                call.arg("w");
            }
            LeaseKind::Mutex => {}
        }
        call.arg(if attempt.waiting {
            self.waiter_member(owner)
        } else {
            String::new()
        })
        .arg(if attempt.queued { "1" } else { "0" });
        let keys: Vec<&str> = read_keys.iter().map(String::as_str).collect();
        let reply: Vec<Value> = self
            .run(op, &keys, call.invoke_async(&mut self.conn()))
            .await?;
        let answer = self.grant(op, reply, attempt.reads.len())?;
        if let Acquire::Granted { token, .. } = answer {
            if let Err(err) = self.wait_for_replicas(op).await {
                // Not safe to hand out: give it back (best effort; if this
                // fails too, the lease expires after its TTL).
                let give_back = Release {
                    kind,
                    name,
                    owner,
                    token,
                    writes: &[],
                };
                let _ = self.release(&give_back).await;
                return Err(err);
            }
        }
        Ok(answer)
    }

    async fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let mut call = match holder(kind, name) {
            Holder::Owner(key) => OWNER_RENEW.key(key),
            Holder::Member(key) => MEMBER_RENEW.key(key),
        };
        call.arg(owner.hex()).arg(millis(ttl));
        let renewed: i64 = self
            .run("lease renew", &[], call.invoke_async(&mut conn))
            .await?;
        if renewed == 1 {
            // An extension a failover could forget is not one to count on.
            self.wait_for_replicas("lease renew").await?;
        }
        Ok(renewed == 1)
    }

    async fn release(&self, release: &Release<'_>) -> Result<Released> {
        let op = "lease release";
        let (kind, name) = (release.kind, release.name);
        let base = lease_base(kind, name);
        let mut call = match holder(kind, name) {
            Holder::Owner(key) => OWNER_RELEASE.key(key),
            Holder::Member(key) => MEMBER_RELEASE.key(key),
        };
        call.key(format!("{base}:q")).key(format!("{base}:s"));
        let write_keys: Vec<String> = release.writes.iter().map(|(k, _)| kv_key(k)).collect();
        for key in &write_keys {
            call.key(key);
        }
        // One freed slot wakes one waiter; a rwlock release may let many
        // readers in, so it wakes them all.
        let everyone = matches!(kind, LeaseKind::Read | LeaseKind::Write);
        call.arg(release.owner.hex())
            .arg(wake_payload(kind, name))
            .arg(if everyone { "1" } else { "0" })
            .arg(format!("f:{name}"))
            .arg(release.token.to_string());
        for (_, write) in release.writes {
            match write {
                Some((value, ttl)) => call.arg("p").arg(value.as_ref()).arg(ttl.map_or(0, millis)),
                None => call.arg("d").arg("").arg(0),
            };
        }
        let keys: Vec<&str> = write_keys.iter().map(String::as_str).collect();
        let reply: Vec<Value> = self
            .run(op, &keys, call.invoke_async(&mut self.conn()))
            .await?;
        let [Value::Int(ours), Value::Int(pending), Value::Int(refused), newest] = &reply[..]
        else {
            return Err(self.protocol(op, "expected {ours, wake pending, refused index, newest}"));
        };
        if *pending == 1 {
            self.deferred.defer(self, kind, name, base);
        }
        match (*ours, *refused) {
            (0, _) => Ok(Released::NotOurs),
            (_, 0) => Ok(Released::Released),
            (_, index) => {
                let newest = match newest {
                    Value::BulkString(digits) => std::str::from_utf8(digits)
                        .ok()
                        .and_then(|s| s.parse().ok()),
                    _ => None,
                };
                let newest =
                    newest.ok_or_else(|| self.protocol(op, "newest token is not a number"))?;
                Ok(Released::Refused {
                    index: index as usize - 1,
                    newest,
                })
            }
        }
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
        let (value, version): (Option<Vec<u8>>, Option<u64>) = self
            .run("kv get", &[], conn.hmget(&rkey, &["v", "n"]))
            .await?;
        Ok(match (value, version) {
            (Some(value), Some(version)) => Some(Versioned {
                value: Bytes::from(value),
                version,
            }),
            _ => None,
        })
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
