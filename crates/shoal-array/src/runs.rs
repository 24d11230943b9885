//! Sorted runs of array elements: the codec the external sorter writes
//! them with, and a reader of length-prefixed frames streamed from
//! shuffle blocks (`[u64 frame bytes][frame]`, a frame being the codec's
//! count-prefixed elements), so a merge reads every run a piece at a time.

use std::marker::PhantomData;

use shoal_core::extsort::{BatchSource, RunCodec};
use shoal_core::{Block, BlockChunks, Bytes, ShuffleInput, TaskError};

use crate::codec::{
    decode_elements, decode_into, encode_elements, encode_frame, heap_estimate, Element,
};
use crate::error::corrupt_task;
use crate::part::Batches;

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

    fn heap_size(&self, item: &T) -> usize {
        heap_estimate(item) as usize
    }
}

/// Appends `items` as one length-prefixed frame (u64 bytes, then the
/// codec's frame), the unit [`BlockFrames`] reads back one at a time.
pub(crate) fn push_frame<T: Element>(items: &[T], out: &mut Vec<u8>) -> Result<(), TaskError> {
    let at = out.len();
    out.extend_from_slice(&[0u8; 8]);
    encode_frame(items, out).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
    let len = (out.len() - at - 8) as u64;
    out[at..at + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// A reduce task's input of length-prefixed frames as a stream of
/// batches, one frame each, read `chunk` bytes at a time: never the
/// whole partition at once. Fused at the first error: it ends there, as
/// a reader past a corrupt frame would only read garbage or the same
/// error again.
pub(crate) fn stream_frames<T: Element>(input: ShuffleInput, chunk: u64) -> Batches<T> {
    let mut blocks = input.into_blocks().into_iter().enumerate();
    let mut current: Option<BlockFrames<T>> = None;
    let mut failed = false;
    Box::new(std::iter::from_fn(move || loop {
        if failed {
            return None;
        }
        if let Some(frames) = current.as_mut() {
            match frames.next_batch() {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => current = None,
                Err(err) => {
                    failed = true;
                    return Some(Err(err));
                }
            }
        }
        let (map_task, block) = blocks.next()?;
        current = Some(BlockFrames::new(&block, chunk).of_map_task(map_task));
    }))
}

/// Reads the frames of one block a chunk at a time.
pub(crate) struct BlockFrames<T> {
    /// The block itself (a cheap clone), named by errors about its frames.
    block: Block,
    /// Which map task's bucket the block is, when it is one.
    map_task: Option<usize>,
    chunks: BlockChunks,
    /// Bytes read but not decoded yet.
    carry: Vec<u8>,
    current: Bytes,
    _type: PhantomData<fn() -> T>,
}

impl<T> BlockFrames<T> {
    pub(crate) fn new(block: &Block, chunk: u64) -> Self {
        BlockFrames {
            block: block.clone(),
            map_task: None,
            chunks: block.chunks(chunk),
            carry: Vec::new(),
            current: Bytes::new(),
            _type: PhantomData,
        }
    }

    /// Says in errors that the block is map task `map_task`'s bucket.
    pub(crate) fn of_map_task(mut self, map_task: usize) -> Self {
        self.map_task = Some(map_task);
        self
    }

    /// A corrupt frame of this block, named by where it lies.
    fn corrupt(&self, reason: impl std::fmt::Display) -> TaskError {
        let what = match self.map_task {
            Some(map_task) => format!("a frame of map task {map_task}'s bucket ({})", self.block),
            None => format!("a frame of {}", self.block),
        };
        corrupt_task(&what, reason)
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

impl<T: Element> BlockFrames<T> {
    /// The next frame's bytes (its element count, then the elements),
    /// undecoded; `None` at the end of the block.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>, TaskError> {
        if !self.fill(8)? {
            if self.carry.is_empty() && self.current.is_empty() {
                return Ok(None);
            }
            return Err(self.corrupt("its length cut short at the end"));
        }
        let header = self.take(8);
        let len = u64::from_le_bytes(header[..8].try_into().expect("8 bytes")) as usize;
        if !self.fill(len)? {
            return Err(self.corrupt(format!("{len} bytes announced, fewer left")));
        }
        Ok(Some(self.take(len)))
    }

    /// A frame's element count and its elements' bytes. Every element
    /// that is not zero-sized takes at least one byte, so a count beyond
    /// that is corrupt (and must not size an allocation).
    pub(crate) fn parts<'f>(&self, frame: &'f [u8]) -> Result<(usize, &'f [u8]), TaskError> {
        let (count, body) = frame
            .split_first_chunk::<8>()
            .ok_or_else(|| self.corrupt("no element count"))?;
        let count = usize::try_from(u64::from_le_bytes(*count))
            .ok()
            .filter(|&c| std::mem::size_of::<T>() == 0 || c <= body.len())
            .ok_or_else(|| self.corrupt("more elements than bytes"))?;
        Ok((count, body))
    }
}

impl<T: Element> BatchSource<T> for BlockFrames<T> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, TaskError> {
        let Some(frame) = self.next_frame()? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        decode_into(&frame, &mut out).map_err(|e| self.corrupt(e))?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_ends_after_its_first_error() {
        let mut whole = Vec::new();
        push_frame(&[1u64, 2, 3], &mut whole).unwrap();
        push_frame(&[4u64], &mut whole).unwrap();
        // The first block's second frame announces more bytes than are
        // left; a good block follows, which must not be read.
        let cut = Block::Memory(Bytes::from(whole[..whole.len() - 1].to_vec()));
        let good = Block::Memory(Bytes::from(whole.clone()));
        let mut batches = stream_frames::<u64>(ShuffleInput::new(vec![cut, good]), 4);
        assert_eq!(batches.next().unwrap().unwrap(), vec![1, 2, 3]);
        assert!(batches.next().unwrap().is_err());
        for _ in 0..3 {
            assert!(
                batches.next().is_none(),
                "the stream went on after an error"
            );
        }
    }

    #[test]
    fn a_corrupt_frame_names_the_map_task_and_where_its_bytes_lie() {
        let mut whole = Vec::new();
        push_frame(&[1u64, 2, 3], &mut whole).unwrap();
        let good = Block::Memory(Bytes::from(whole.clone()));
        // The second map task's bucket loses its last byte.
        let cut = Block::Memory(Bytes::from(whole[..whole.len() - 1].to_vec()));
        let input = ShuffleInput::new(vec![good, cut]);
        // The stream ends at its first error.
        let batches: Vec<_> = stream_frames::<u64>(input, 4).collect();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].as_ref().unwrap(), &vec![1, 2, 3]);
        let err = batches[1].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("frame of map task 1's bucket")
                && err.contains(&format!("{} bytes in memory", whole.len() - 1))
                && !err.contains("sort run"),
            "{err}"
        );
    }
}
