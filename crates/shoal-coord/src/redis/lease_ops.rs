//! The lease steps on Redis: argument marshalling around the lease
//! scripts (grant, renew, release with hand-off and deferred wake-ups,
//! leaving the waiter queue).

use std::time::Duration;

use bytes::Bytes;
use redis::Value;

use super::lease_scripts::{
    MEMBER_RELEASE, MEMBER_RENEW, MUTEX_ACQUIRE, OWNER_RELEASE, OWNER_RENEW, RW_ACQUIRE,
    SEM_ACQUIRE,
};
use super::{kv_key, lease_base, wake_payload, RedisBackend};
use crate::backend::{Attempt, Release, Released};
use crate::error::Result;
use crate::kv::Versioned;
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

    pub(super) async fn acquire_lease(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
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
            .key(format!("{base}:s"))
            .key(format!("{base}:h"));
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
                let _ = self.release_lease(&give_back).await;
                return Err(err);
            }
        }
        Ok(answer)
    }

    pub(super) async fn renew_lease(
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

    pub(super) async fn release_lease(&self, release: &Release<'_>) -> Result<Released> {
        let op = "lease release";
        let (kind, name) = (release.kind, release.name);
        let base = lease_base(kind, name);
        let mut call = match holder(kind, name) {
            Holder::Owner(key) => OWNER_RELEASE.key(key),
            Holder::Member(key) => MEMBER_RELEASE.key(key),
        };
        call.key(format!("{base}:q"))
            .key(format!("{base}:s"))
            .key(format!("{base}:h"));
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

    pub(super) async fn leave_queue(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) -> Result<()> {
        let base = lease_base(kind, name);
        let member = self.waiter_member(owner);
        let mut leave = redis::pipe();
        leave
            .zrem(format!("{base}:q"), &member)
            .ignore()
            .zrem(format!("{base}:s"), &member)
            .ignore();
        self.run(
            "leave waiter queue",
            &[],
            leave.query_async::<()>(&mut self.conn()),
        )
        .await
    }
}

/// A key read by a script (`HMGET v n`): `Some(None)` when absent, `None`
/// when the reply is not a value and a version.
pub(super) fn versioned(value: &Value, version: &Value) -> Option<Option<Versioned>> {
    match (value, version) {
        (Value::BulkString(value), Value::BulkString(version)) => Some(Some(Versioned {
            value: Bytes::copy_from_slice(value),
            version: std::str::from_utf8(version).ok()?.parse().ok()?,
        })),
        (Value::Nil, _) | (_, Value::Nil) => Some(None),
        _ => None,
    }
}
