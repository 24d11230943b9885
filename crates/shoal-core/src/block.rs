//! Blocks of committed stage output, read lazily: a reduce task gets
//! descriptors of its input and streams them, never the whole partition
//! at once unless it asks for it.
//!
//! A [`Block`] is one map task's bucket (or a piece of it: a task whose
//! staged output outgrew its memory writes it in segments). It lives in
//! memory, in a spill file of the embedded executor, or in the cluster's
//! shared store. [`Block::chunks`] streams it in pieces of a chosen size —
//! zero-copy slices in memory, ranged reads from files, and ranged requests
//! with one piece in flight ahead from a store.

use std::ops::Range;

use bytes::Bytes;
use shoal_store::{RangesAhead, Store};

use crate::{SpillFile, TaskError};

/// Where one block of committed output lives.
#[derive(Debug, Clone)]
pub enum Block {
    /// In memory.
    Memory(Bytes),
    /// Bytes `range` of a spill file.
    Spilled {
        /// The file.
        file: SpillFile,
        /// The block's bytes in it.
        range: Range<u64>,
    },
    /// Bytes `range` of an object in a store.
    Stored {
        /// The store.
        store: Store,
        /// The object's key.
        key: String,
        /// The block's bytes in it.
        range: Range<u64>,
    },
}

impl Block {
    /// The block's size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Block::Memory(bytes) => bytes.len() as u64,
            Block::Spilled { range, .. } | Block::Stored { range, .. } => range.end - range.start,
        }
    }

    /// Whether the block is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether reading it costs no I/O.
    pub fn is_in_memory(&self) -> bool {
        matches!(self, Block::Memory(_))
    }

    /// Bytes `range` of the block (relative, clamped to its end).
    pub fn read_range(&self, range: Range<u64>) -> Result<Bytes, TaskError> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Block::Memory(bytes) => Ok(bytes.slice(start as usize..end as usize)),
            Block::Spilled { file, range } => {
                Ok(file.read_range(range.start + start..range.start + end)?)
            }
            Block::Stored { store, key, range } => {
                Ok(store.get_range(key, range.start + start..range.start + end)?)
            }
        }
    }

    /// The whole block.
    pub fn read_all(&self) -> Result<Bytes, TaskError> {
        self.read_range(0..self.len())
    }

    /// Streams the block in pieces of at most `chunk` bytes (in memory:
    /// slices of any size are free, so one piece).
    pub fn chunks(&self, chunk: u64) -> BlockChunks {
        BlockChunks {
            block: self.clone(),
            next: 0,
            chunk: chunk.max(1),
            ahead: None,
        }
    }
}

/// The pieces of a [`Block`], in order ([`Block::chunks`]).
pub struct BlockChunks {
    block: Block,
    /// Offset of the next piece not yet requested.
    next: u64,
    chunk: u64,
    /// A store request already in flight for the piece at `next - len`.
    ahead: Option<RangesAhead>,
}

impl BlockChunks {
    fn next_range(&mut self) -> Option<Range<u64>> {
        let len = self.block.len();
        if self.next >= len {
            return None;
        }
        let end = match self.block {
            Block::Memory(_) => len,
            _ => (self.next + self.chunk).min(len),
        };
        let range = self.next..end;
        self.next = end;
        Some(range)
    }

    fn request(&mut self) -> Option<RangesAhead> {
        let range = self.next_range()?;
        let Block::Stored {
            store,
            key,
            range: whole,
        } = &self.block
        else {
            return None;
        };
        let absolute = whole.start + range.start..whole.start + range.end;
        Some(store.get_ranges_ahead(key, vec![absolute]))
    }
}

impl Iterator for BlockChunks {
    type Item = Result<Bytes, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Block::Stored { .. } = self.block {
            let current = match self.ahead.take() {
                Some(current) => current,
                None => self.request()?,
            };
            // Keep one request in flight while the caller works on this one.
            self.ahead = self.request();
            return Some(
                current
                    .wait()
                    .map(|mut parts| parts.pop().unwrap_or_default())
                    .map_err(TaskError::from),
            );
        }
        let range = self.next_range()?;
        Some(self.block.read_range(range))
    }
}

/// A reduce task's input from one shuffle stage: bucket *p* of every map
/// task, in map order, as blocks read on demand.
#[derive(Debug, Clone, Default)]
pub struct ShuffleInput {
    blocks: Vec<Block>,
}

impl ShuffleInput {
    /// Input made of `blocks`, in map order.
    pub fn new(blocks: Vec<Block>) -> ShuffleInput {
        ShuffleInput { blocks }
    }

    /// The blocks, in map order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Takes the blocks.
    pub fn into_blocks(self) -> Vec<Block> {
        self.blocks
    }

    /// Total bytes.
    pub fn len(&self) -> u64 {
        self.blocks.iter().map(Block::len).sum()
    }

    /// Whether there is no input at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads every block whole, one at a time, in order.
    pub fn iter_bytes(&self) -> impl Iterator<Item = Result<Bytes, TaskError>> + '_ {
        self.blocks
            .iter()
            .filter(|b| !b.is_empty())
            .map(Block::read_all)
    }

    /// Reads everything into memory: only for consumers that need the
    /// whole partition at once (and size their partitions for it).
    pub fn read_all(&self) -> Result<Vec<Bytes>, TaskError> {
        self.iter_bytes().collect()
    }
}

impl IntoIterator for ShuffleInput {
    type Item = Block;
    type IntoIter = std::vec::IntoIter<Block>;

    fn into_iter(self) -> Self::IntoIter {
        self.blocks.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryPool, SpillSpace};

    fn concat(chunks: BlockChunks) -> Vec<u8> {
        chunks.flat_map(|c| c.unwrap().to_vec()).collect()
    }

    #[test]
    fn every_kind_of_block_streams_in_pieces() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let memory = Block::Memory(Bytes::from(data.clone()));
        assert_eq!(memory.chunks(7).count(), 1);
        assert_eq!(concat(memory.chunks(7)), data);

        let dir = tempfile::tempdir().unwrap();
        let space = SpillSpace::new(dir.path(), MemoryPool::unbounded());
        let mut writer = space.create().unwrap();
        writer.write(b"head").unwrap();
        writer.write(&data).unwrap();
        let spilled = Block::Spilled {
            file: writer.finish().unwrap(),
            range: 4..4 + data.len() as u64,
        };
        assert_eq!(spilled.chunks(999).count(), 11);
        assert_eq!(concat(spilled.chunks(999)), data);
        assert_eq!(&spilled.read_range(10..12).unwrap()[..], &data[10..12]);

        let store = Store::open("memory://block-test").unwrap();
        let mut object = b"xx".to_vec();
        object.extend_from_slice(&data);
        store.put("obj", Bytes::from(object)).unwrap();
        let stored = Block::Stored {
            store,
            key: "obj".into(),
            range: 2..2 + data.len() as u64,
        };
        assert_eq!(stored.chunks(4096).count(), 3);
        assert_eq!(concat(stored.chunks(4096)), data);
        assert_eq!(stored.read_all().unwrap().len(), data.len());
    }
}
