//! The shuffle record format between the "read" and "users" stages.
//!
//! A block (the bytes one read task wrote for one user partition) is a
//! sequence of entries, each starting with a varint tag:
//!
//! - `0`: read statistics, `varint len` + postcard [`ReadStats`] (only in
//!   partition 0, once per read task);
//! - `1`: an event-name definition, `varint id` + `varint len` + bytes: later
//!   rows of this block refer to the name by `id` (names repeat millions of
//!   times, so each is written once per block);
//! - `n ≥ 2`: a row: `n − 2` bytes of user id, the timestamp as a zigzag
//!   varint delta from the previous row of the block (logs are roughly time
//!   ordered, so deltas are short), `varint` event id, `varint len` + item.
//!
//! Decoding borrows every string from the block, so the reduce side copies
//! no bytes.

use serde::{Deserialize, Serialize};
use shoal_events::{ChunkSummary, Rejection};

use crate::error::DecodeError;
use crate::hash::FixedMap;

const TAG_STATS: u64 = 0;
const TAG_EVENT: u64 = 1;
const TAG_ROW: u64 = 2;

/// One bad input row, kept for the stderr sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectSample {
    /// Where: `file:line` as the reader reported it.
    pub location: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What a read task saw besides rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadStats {
    /// The split this task read (orders the rejections).
    pub split: u32,
    /// Rows skipped as bad.
    pub rejected: u64,
    /// The first few rejected rows of this split; a chunk split's lines
    /// count from its first byte until the merge places it
    /// ([`crate::reads`]).
    pub rejects: Vec<Rejection>,
    /// For a chunk split: what its bytes hold.
    pub chunk: Option<ChunkSummary>,
}

/// Per-read-task encoder: owns the event-name dictionary and, per bucket,
/// the previous timestamp and which names the bucket already defined.
#[derive(Debug, Default)]
pub struct BlockEncoder {
    names: Vec<Box<[u8]>>,
    lookup: FixedMap<Box<[u8]>, u32>,
    buckets: Vec<BucketState>,
}

#[derive(Debug, Default, Clone)]
struct BucketState {
    prev_ts: i64,
    defined: Vec<bool>,
}

/// Names beyond this many are found through the hash map, not a scan.
const SCAN_LIMIT: usize = 16;

impl BlockEncoder {
    /// An encoder for `buckets` output partitions.
    pub fn new(buckets: u32) -> Self {
        BlockEncoder {
            buckets: vec![BucketState::default(); buckets as usize],
            ..Default::default()
        }
    }

    fn name_id(&mut self, event: &[u8]) -> u32 {
        if self.names.len() <= SCAN_LIMIT {
            if let Some(i) = self.names.iter().position(|n| **n == *event) {
                return i as u32;
            }
        } else if let Some(&id) = self.lookup.get(event) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(event.into());
        self.lookup.insert(event.into(), id);
        id
    }

    /// Appends one row to `out`, the block of `bucket`.
    #[inline]
    pub fn push_row(
        &mut self,
        out: &mut Vec<u8>,
        bucket: u32,
        user: &[u8],
        ts_ms: i64,
        event: &[u8],
        item: &[u8],
    ) {
        let id = self.name_id(event);
        let state = &mut self.buckets[bucket as usize];
        if state.defined.len() <= id as usize {
            state.defined.resize(id as usize + 1, false);
        }
        if !state.defined[id as usize] {
            state.defined[id as usize] = true;
            put_varint(out, TAG_EVENT);
            put_varint(out, u64::from(id));
            put_bytes(out, event);
        }
        put_varint(out, TAG_ROW + user.len() as u64);
        out.extend_from_slice(user);
        put_varint(out, zigzag(ts_ms.wrapping_sub(state.prev_ts)));
        state.prev_ts = ts_ms;
        put_varint(out, u64::from(id));
        put_bytes(out, item);
    }
}

/// Appends the read-statistics entry to `out`.
pub fn push_stats(out: &mut Vec<u8>, stats: &ReadStats) {
    // Serializing plain integers and strings into a Vec cannot fail.
    let bytes = postcard::to_allocvec(stats).unwrap_or_default();
    put_varint(out, TAG_STATS);
    put_bytes(out, &bytes);
}

/// Receives a block's entries in order.
pub trait BlockVisitor<'a> {
    /// Event name `id` of this block is `name`.
    fn event_name(&mut self, id: u32, name: &'a [u8]);
    /// One row; `event` is a block-local name id, always defined earlier
    /// in the block.
    fn row(&mut self, user: &'a [u8], ts_ms: i64, event: u32, item: &'a [u8]);
    /// A read task's statistics.
    fn stats(&mut self, stats: ReadStats);
}

/// Decodes block number `index` (for error messages), calling `visitor`.
pub fn decode_block<'a>(
    block: &'a [u8],
    index: usize,
    visitor: &mut impl BlockVisitor<'a>,
) -> Result<(), DecodeError> {
    let mut r = Reader {
        buf: block,
        pos: 0,
        block: index,
    };
    let mut prev_ts = 0i64;
    let mut defined: Vec<bool> = Vec::new();
    while r.pos < block.len() {
        let start = r.pos;
        match r.varint()? {
            TAG_STATS => {
                let bytes = r.bytes()?;
                let stats = postcard::from_bytes(bytes).map_err(|_| DecodeError::Record {
                    block: index,
                    offset: start,
                    what: "read statistics do not decode",
                })?;
                visitor.stats(stats);
            }
            TAG_EVENT => {
                let id = r.varint()?;
                let name = r.bytes()?;
                let id = r.id(id)?;
                if defined.len() <= id as usize {
                    defined.resize(id as usize + 1, false);
                }
                defined[id as usize] = true;
                visitor.event_name(id, name);
            }
            tag => {
                let user = r.take((tag - TAG_ROW) as usize)?;
                prev_ts = prev_ts.wrapping_add(unzigzag(r.varint()?));
                let event = r.varint()?;
                let event = r.id(event)?;
                if !defined.get(event as usize).copied().unwrap_or(false) {
                    return Err(r.err("row refers to an undefined event name"));
                }
                let item = r.bytes()?;
                visitor.row(user, prev_ts, event, item);
            }
        }
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    block: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError::Record {
            block: self.block,
            offset: self.pos,
            what,
        }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("varint cut short"));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(self.err("varint too long"))
    }

    #[inline]
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("length past the end of the block"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        self.take(usize::try_from(len).unwrap_or(usize::MAX))
    }

    #[inline]
    fn id(&self, id: u64) -> Result<u32, DecodeError> {
        u32::try_from(id).map_err(|_| self.err("event id out of range"))
    }
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    type OwnedRow = (Vec<u8>, i64, Vec<u8>, Vec<u8>);

    #[derive(Default)]
    struct Collect {
        names: FixedMap<u32, Vec<u8>>,
        rows: Vec<OwnedRow>,
        stats: Vec<ReadStats>,
    }

    impl<'a> BlockVisitor<'a> for Collect {
        fn event_name(&mut self, id: u32, name: &'a [u8]) {
            self.names.insert(id, name.to_vec());
        }
        fn row(&mut self, user: &'a [u8], ts: i64, event: u32, item: &'a [u8]) {
            let name = self.names[&event].clone();
            self.rows.push((user.to_vec(), ts, name, item.to_vec()));
        }
        fn stats(&mut self, stats: ReadStats) {
            self.stats.push(stats);
        }
    }

    #[test]
    fn rows_round_trip_per_bucket() {
        let mut enc = BlockEncoder::new(2);
        let (mut b0, mut b1) = (Vec::new(), Vec::new());
        let many: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
        enc.push_row(
            &mut b0,
            0,
            "ü,\"x\"".as_bytes(),
            1_700_000_000_123,
            b"view",
            b"",
        );
        enc.push_row(&mut b1, 1, b"u2", -5, b"view", b"item-9");
        enc.push_row(&mut b0, 0, b"", i64::MIN, b"cart", b"i");
        for (i, name) in many.iter().enumerate() {
            enc.push_row(&mut b1, 1, b"u", i64::MAX - i as i64, name.as_bytes(), b"");
        }
        push_stats(
            &mut b0,
            &ReadStats {
                split: 3,
                rejected: 2,
                rejects: vec![],
                chunk: None,
            },
        );

        let mut c0 = Collect::default();
        decode_block(&b0, 0, &mut c0).unwrap();
        assert_eq!(
            c0.rows[0],
            (
                "ü,\"x\"".as_bytes().to_vec(),
                1_700_000_000_123,
                b"view".to_vec(),
                vec![]
            )
        );
        assert_eq!(
            c0.rows[1],
            (vec![], i64::MIN, b"cart".to_vec(), b"i".to_vec())
        );
        assert_eq!(c0.stats[0].rejected, 2);

        let mut c1 = Collect::default();
        decode_block(&b1, 1, &mut c1).unwrap();
        assert_eq!(c1.rows.len(), 41);
        assert_eq!(c1.rows[0].1, -5);
        assert_eq!(
            c1.rows[40],
            (b"u".to_vec(), i64::MAX - 39, b"e39".to_vec(), vec![])
        );
    }

    #[test]
    fn truncated_block_is_an_error_not_a_panic() {
        // The block: the definition of "view" (tag, id, length, 4 bytes),
        // then two rows. A cut on an entry boundary is a shorter valid
        // block; a cut anywhere else must be an error — a decoder that
        // quietly returned the rows before the cut would lose data.
        let mut enc = BlockEncoder::new(1);
        let mut b = Vec::new();
        enc.push_row(&mut b, 0, b"user", 1, b"view", b"item");
        let first_row_end = b.len();
        enc.push_row(&mut b, 0, b"other", 300, b"view", b"");
        let definition_end = 1 + 1 + 1 + b"view".len();
        let boundaries = [(definition_end, 0), (first_row_end, 1), (b.len(), 2)];
        for cut in 1..=b.len() {
            let mut c = Collect::default();
            let decoded = decode_block(&b[..cut], 0, &mut c);
            match boundaries.iter().find(|(at, _)| *at == cut) {
                Some((_, rows)) => {
                    assert!(decoded.is_ok(), "cut {cut} on a boundary: {decoded:?}");
                    assert_eq!(c.rows.len(), *rows, "cut {cut}");
                    assert_eq!(c.names.len(), 1, "cut {cut}");
                }
                None => assert!(
                    decoded.is_err(),
                    "cut {cut} inside an entry decoded silently: {} rows",
                    c.rows.len()
                ),
            }
        }
        let mut c = Collect::default();
        assert!(decode_block(&[0xff; 11], 0, &mut c).is_err());
    }
}
