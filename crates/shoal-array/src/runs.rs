//! Sorted runs of array elements: the codec the external sorter writes
//! them with, and a reader of length-prefixed frames streamed from
//! shuffle blocks (`[u64 frame bytes][frame]`, a frame being the codec's
//! count-prefixed elements), so a merge reads every run a piece at a time.

use std::marker::PhantomData;

use shoal_core::extsort::{BatchSource, RunCodec};
use shoal_core::{Block, BlockChunks, Bytes, TaskError};

use crate::codec::{decode_elements, decode_into, encode_elements, encode_frame, Element};
use crate::error::corrupt_task;

/// Elements of `T` in run files: raw little-endian for plain numbers,
/// postcard otherwise.
pub(crate) struct ArrayCodec<T>(PhantomData<fn() -> T>);

impl<T> Clone for ArrayCodec<T> {
    fn clone(&self) -> Self {
        ArrayCodec(PhantomData)
    }
}

impl<T> ArrayCodec<T> {
    pub(crate) fn new() -> Self {
        ArrayCodec(PhantomData)
    }
}

impl<T: Element> RunCodec for ArrayCodec<T> {
    type Item = T;

    fn encode(&self, items: &[T], out: &mut Vec<u8>) {
        // Encoding into a vector fails only for types serde cannot
        // represent, which could not have come this far.
        encode_elements(items, out).expect("encodable element");
    }

    fn decode(&self, bytes: &[u8], count: usize, out: &mut Vec<T>) -> Result<(), String> {
        decode_elements(bytes, count, out)
    }
}

/// Appends `items` to `out` as length-prefixed frames of at most `max`
/// elements each.
pub(crate) fn write_frames<T: Element>(
    items: &[T],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), TaskError> {
    for chunk in items.chunks(max.max(1)) {
        let at = out.len();
        out.extend_from_slice(&[0u8; 8]);
        encode_frame(chunk, out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
        let len = (out.len() - at - 8) as u64;
        out[at..at + 8].copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}

/// Reads the frames of one block a chunk at a time.
pub(crate) struct BlockFrames<T> {
    chunks: BlockChunks,
    /// Bytes read but not decoded yet.
    carry: Vec<u8>,
    current: Bytes,
    _type: PhantomData<fn() -> T>,
}

impl<T> BlockFrames<T> {
    pub(crate) fn new(block: &Block, chunk: u64) -> Self {
        BlockFrames {
            chunks: block.chunks(chunk),
            carry: Vec::new(),
            current: Bytes::new(),
            _type: PhantomData,
        }
    }
}

impl<T: Element> BlockFrames<T> {
    /// Makes at least `need` unread bytes available in `carry` or
    /// `current`; false at the end of the block.
    fn fill(&mut self, need: usize) -> Result<bool, TaskError> {
        while self.carry.len() + self.current.len() < need {
            let Some(next) = self.chunks.next() else {
                return Ok(false);
            };
            let next = next?;
            if self.carry.is_empty() && self.current.is_empty() {
                self.current = next;
            } else {
                self.carry.extend_from_slice(&self.current);
                self.carry.extend_from_slice(&next);
                self.current = Bytes::new();
            }
        }
        Ok(true)
    }

    /// The next `len` unread bytes, borrowed from the chunk when they lie
    /// inside it (no copy), else from the carry buffer.
    fn take(&mut self, len: usize) -> Bytes {
        if self.carry.is_empty() {
            return self.current.split_to(len);
        }
        self.carry.extend_from_slice(&self.current);
        self.current = Bytes::new();
        let rest = self.carry.split_off(len);
        let taken = std::mem::replace(&mut self.carry, rest);
        Bytes::from(taken)
    }
}

impl<T: Element> BatchSource<T> for BlockFrames<T> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, TaskError> {
        if !self.fill(8)? {
            if self.carry.is_empty() && self.current.is_empty() {
                return Ok(None);
            }
            return Err(corrupt_task("sort run", "frame header cut short"));
        }
        let header = self.take(8);
        let len = u64::from_le_bytes(header[..8].try_into().expect("8 bytes")) as usize;
        if !self.fill(len)? {
            return Err(corrupt_task("sort run", "frame cut short"));
        }
        let frame = self.take(len);
        let mut out = Vec::new();
        decode_into(&frame, &mut out).map_err(|e| corrupt_task("sort run", e))?;
        Ok(Some(out))
    }
}
