//! Release notifications over Redis pub/sub. Every release script
//! publishes on `shoal:wake:<family>:<name>`; each coordinator holds one
//! pattern subscription and wakes its local waiters for that resource.
//! Messages can be lost (reconnects), so waiters also back off with a
//! bound — the notification only makes hand-over prompt.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::Notify;

/// The channel pattern every coordinator subscribes to.
pub(crate) const PATTERN: &str = "shoal:wake:*";

/// Local waiters, by wake channel.
#[derive(Default)]
pub(crate) struct WakeRegistry {
    waiters: Mutex<HashMap<String, Weak<Notify>>>,
}

impl WakeRegistry {
    /// The notifier for `channel`, shared by all local waiters on it.
    pub(crate) fn handle(&self, channel: String) -> Arc<Notify> {
        let mut waiters = self.waiters.lock();
        if let Some(existing) = waiters.get(&channel).and_then(Weak::upgrade) {
            return existing;
        }
        if waiters.len() >= 1024 {
            waiters.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(channel, Arc::downgrade(&notify));
        notify
    }

    fn wake(&self, channel: &[u8]) {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        let found = self.waiters.lock().get(channel).and_then(Weak::upgrade);
        if let Some(notify) = found {
            notify.notify_waiters();
        }
    }

    /// Wakes everybody (after a disconnect, messages may have been lost).
    fn wake_all(&self) {
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
                PushKind::PMessage => {
                    if let Some(Value::BulkString(channel)) = info.data.get(1) {
                        registry.wake(channel);
                    }
                }
                PushKind::Disconnection => registry.wake_all(),
                _ => {}
            }
            Ok(())
        }
    }
}
