//! The row type handed to consumers, and the trait that receives rows.

/// One accepted row, borrowed from the reader's buffers (valid only during
/// [`EventSink::accept`]; copy what you keep). `item` is `""` when the item
/// column is absent or the value is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The user the event belongs to; never empty.
    pub user_id: &'a str,
    /// Event time, Unix epoch milliseconds, UTC.
    pub ts_ms: i64,
    /// Event type such as `view`, `cart`, `purchase` (may be empty).
    pub event: &'a str,
    /// The item the event concerns, `""` when none.
    pub item: &'a str,
}

/// Receives a split's accepted rows, in file order.
pub trait EventSink {
    /// Called once per accepted row.
    fn accept(&mut self, event: &Event<'_>);
}

/// Closures are sinks, which keeps tests and small consumers short.
impl<F: FnMut(&Event<'_>)> EventSink for F {
    fn accept(&mut self, event: &Event<'_>) {
        self(event)
    }
}
