//! Release notifications over Redis pub/sub. Each coordinator subscribes
//! to its own channel `shoal:wake:<client>`; a release script publishes
//! `<family>:<name>` there for the waiter(s) it picked, and this registry
//! wakes the local waiters of that resource. Messages can be lost
//! (reconnects, a waiter that just gave up), so waiters also back off with
//! a bound — the notification only makes hand-over prompt.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::Notify;

/// Local waiters, by resource (`family:name`).
#[derive(Default)]
pub(crate) struct WakeRegistry {
    waiters: Mutex<HashMap<String, Weak<Notify>>>,
}

impl WakeRegistry {
    /// The notifier for `resource`, shared by all local waiters on it.
    pub(crate) fn handle(&self, resource: String) -> Arc<Notify> {
        let mut waiters = self.waiters.lock();
        if let Some(existing) = waiters.get(&resource).and_then(Weak::upgrade) {
            return existing;
        }
        if waiters.len() >= 1024 {
            waiters.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(resource, Arc::downgrade(&notify));
        notify
    }

    fn wake(&self, resource: &[u8]) {
        let Ok(resource) = std::str::from_utf8(resource) else {
            return;
        };
        let found = self.waiters.lock().get(resource).and_then(Weak::upgrade);
        if let Some(notify) = found {
            notify.notify_waiters();
        }
    }

    /// Wakes everybody (after a disconnect, messages may have been lost).
    pub(crate) fn wake_all(&self) {
        let all: Vec<_> = self
            .waiters
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for notify in all {
            notify.notify_waiters();
        }
    }

    /// The push callback handed to the connection.
    pub(crate) fn push_sender(
        self: &Arc<Self>,
    ) -> impl Fn(PushInfo) -> Result<(), Infallible> + Send + Sync + 'static {
        let registry = Arc::clone(self);
        move |info: PushInfo| {
            match info.kind {
                PushKind::Message => {
                    if let Some(Value::BulkString(resource)) = info.data.get(1) {
                        registry.wake(resource);
                    }
                }
                PushKind::Disconnection => registry.wake_all(),
                _ => {}
            }
            Ok(())
        }
    }
}
