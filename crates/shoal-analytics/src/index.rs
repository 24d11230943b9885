//! Decoding a user partition's shuffle blocks into a compact row index.
//!
//! Strings are interned into dense ids (users, items, event names) with
//! slices borrowed from the blocks, so the per-user walk works on integers
//! and copies no bytes.

use crate::error::DecodeError;
use crate::hash::FixedMap;
use crate::record::{decode_block, BlockVisitor, ReadStats};

/// Item id of rows without an item.
pub const NO_ITEM: u32 = u32::MAX;

/// One accepted row with interned ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Epoch milliseconds.
    pub ts: i64,
    /// Dense user id.
    pub user: u32,
    /// Dense event-name id.
    pub event: u32,
    /// Dense item id or [`NO_ITEM`].
    pub item: u32,
}

/// All rows of one user partition plus the dictionaries behind their ids.
#[derive(Debug, Default)]
pub struct PartitionIndex<'a> {
    /// Rows in block order.
    pub rows: Vec<Row>,
    /// Number of distinct users (ids are `0..users`).
    pub users: u32,
    /// Event names by id.
    pub events: Vec<&'a [u8]>,
    /// Item names by id.
    pub items: Vec<&'a [u8]>,
    /// Read-task statistics found in the blocks.
    pub stats: Vec<ReadStats>,
    user_ids: FixedMap<&'a [u8], u32>,
    item_ids: FixedMap<&'a [u8], u32>,
    event_ids: FixedMap<&'a [u8], u32>,
    /// Block-local event id → partition event id, for the current block.
    local_events: Vec<u32>,
}

impl<'a> PartitionIndex<'a> {
    /// Decodes every block of the partition.
    pub fn build(blocks: &'a [impl AsRef<[u8]>]) -> Result<Self, DecodeError> {
        let mut index = PartitionIndex::default();
        // ~20 bytes per record is a fair guess for typical click logs.
        let bytes: usize = blocks.iter().map(|b| b.as_ref().len()).sum();
        index.rows.reserve(bytes / 20);
        for (i, block) in blocks.iter().enumerate() {
            index.local_events.clear();
            decode_block(block.as_ref(), i, &mut index)?;
        }
        Ok(index)
    }
}

impl<'a> BlockVisitor<'a> for PartitionIndex<'a> {
    fn event_name(&mut self, id: u32, name: &'a [u8]) {
        let next = self.events.len() as u32;
        let global = *self.event_ids.entry(name).or_insert(next);
        if global == next {
            self.events.push(name);
        }
        if self.local_events.len() <= id as usize {
            self.local_events.resize(id as usize + 1, 0);
        }
        self.local_events[id as usize] = global;
    }

    #[inline]
    fn row(&mut self, user: &'a [u8], ts: i64, event: u32, item: &'a [u8]) {
        let next = self.users;
        let user = *self.user_ids.entry(user).or_insert(next);
        if user == next {
            self.users += 1;
        }
        let item = if item.is_empty() {
            NO_ITEM
        } else {
            let next = self.items.len() as u32;
            let id = *self.item_ids.entry(item).or_insert(next);
            if id == next {
                self.items.push(item);
            }
            id
        };
        // The decoder guarantees `event` was defined in this block.
        let event = self.local_events[event as usize];
        self.rows.push(Row {
            ts,
            user,
            event,
            item,
        });
    }

    fn stats(&mut self, stats: ReadStats) {
        self.stats.push(stats);
    }
}

/// Rows grouped by user: `events[starts[u]..starts[u + 1]]` are user u's
/// `(ts, event, item)` in ascending time.
#[derive(Debug)]
pub struct ByUser {
    /// Offsets into `events`, `users + 1` long.
    pub starts: Vec<u32>,
    /// `(ts, event, item)` grouped by user, each group time-ordered.
    pub events: Vec<(i64, u32, u32)>,
}

impl ByUser {
    /// Counting sort by user, then a small time sort per user. Ties in time
    /// keep any order: no definition depends on the order of equal times.
    pub fn group(rows: &[Row], users: u32) -> ByUser {
        let mut starts = vec![0u32; users as usize + 1];
        for r in rows {
            starts[r.user as usize + 1] += 1;
        }
        for u in 0..users as usize {
            starts[u + 1] += starts[u];
        }
        let mut fill = starts.clone();
        let mut events = vec![(0i64, 0u32, 0u32); rows.len()];
        for r in rows {
            let at = &mut fill[r.user as usize];
            events[*at as usize] = (r.ts, r.event, r.item);
            *at += 1;
        }
        for u in 0..users as usize {
            let slice = &mut events[starts[u] as usize..starts[u + 1] as usize];
            if !slice.is_sorted_by_key(|e| e.0) {
                slice.sort_unstable_by_key(|e| e.0);
            }
        }
        ByUser { starts, events }
    }

    /// User `u`'s events in time order.
    #[inline]
    pub fn user(&self, u: usize) -> &[(i64, u32, u32)] {
        &self.events[self.starts[u] as usize..self.starts[u + 1] as usize]
    }
}
