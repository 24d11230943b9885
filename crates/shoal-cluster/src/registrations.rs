//! Reading worker registrations: who is registered, who is still alive,
//! and which jobs each one runs. Drivers read them to know whether their
//! job can run at all; `shoal status` shows them.

use std::collections::HashMap;
use std::time::Duration;

use crate::control::Control;
use crate::protocol::{DecodeError, WorkerInfo};
use crate::{keys, ClusterError};

/// One name in the set of registered workers.
pub(crate) struct Registration {
    /// The worker's name.
    pub name: String,
    /// What it said in its last heartbeat; `None` once its registration
    /// expired (it stopped heartbeating).
    pub info: Option<Result<WorkerInfo, DecodeError>>,
}

impl Registration {
    /// Whether it is alive and runs the job with `fingerprint`.
    pub(crate) fn offers(&self, fingerprint: &str) -> bool {
        matches!(&self.info, Some(Ok(info)) if info.offers(fingerprint))
    }
}

/// Every registered worker, sorted by name: two round trips however
/// many there are.
pub(crate) fn registrations(control: &mut Control) -> Result<Vec<Registration>, ClusterError> {
    let mut names: Vec<String> = control.run("SMEMBERS workers", Duration::ZERO, |c| {
        redis::cmd("SMEMBERS").arg(keys::WORKERS).query(c)
    })?;
    names.sort();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let hashes: Vec<HashMap<String, Vec<u8>>> =
        control.run("HGETALL workers", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for name in &names {
                pipe.cmd("HGETALL").arg(keys::worker(name));
            }
            pipe.query(c)
        })?;
    Ok(names
        .into_iter()
        .zip(hashes)
        .map(|(name, hash)| {
            let info = (!hash.is_empty()).then(|| {
                let pairs: Vec<(String, Vec<u8>)> = hash.into_iter().collect();
                WorkerInfo::decode(&keys::worker(&name), &pairs)
            });
            Registration { name, info }
        })
        .collect())
}

/// The registered workers that are alive.
pub(crate) fn live_workers(control: &mut Control) -> Result<Vec<Registration>, ClusterError> {
    let mut all = registrations(control)?;
    all.retain(|r| r.info.is_some());
    Ok(all)
}
