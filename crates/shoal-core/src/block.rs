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

use std::fmt;
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
    /// Pieces read one after the other as one block: a bucket its task
    /// wrote partly to spill files while it ran (segments), then the rest.
    Pieces(Vec<Block>),
}

impl Block {
    /// One block of `pieces` (the piece itself when there is one).
    pub fn concat(mut pieces: Vec<Block>) -> Block {
        pieces.retain(|piece| !piece.is_empty());
        if pieces.len() == 1 {
            return pieces.pop().expect("one piece");
        }
        Block::Pieces(pieces)
    }

    /// The block's size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Block::Memory(bytes) => bytes.len() as u64,
            Block::Spilled { range, .. } | Block::Stored { range, .. } => range.end - range.start,
            Block::Pieces(pieces) => pieces.iter().map(Block::len).sum(),
        }
    }

    /// Whether the block is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether reading it costs no I/O.
    pub fn is_in_memory(&self) -> bool {
        match self {
            Block::Memory(_) => true,
            Block::Pieces(pieces) => pieces.iter().all(Block::is_in_memory),
            _ => false,
        }
    }

    /// The bytes `range` of the block (relative, clamped to its end) as a
    /// block of their own, without reading anything.
    pub fn slice(&self, range: Range<u64>) -> Block {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Block::Memory(bytes) => Block::Memory(bytes.slice(start as usize..end as usize)),
            Block::Spilled { file, range } => Block::Spilled {
                file: file.clone(),
                range: range.start + start..range.start + end,
            },
            Block::Stored { store, key, range } => Block::Stored {
                store: store.clone(),
                key: key.clone(),
                range: range.start + start..range.start + end,
            },
            Block::Pieces(pieces) => {
                let mut at = 0;
                let mut kept = Vec::new();
                for piece in pieces {
                    let len = piece.len();
                    if at < end && at + len > start {
                        kept.push(piece.slice(start.saturating_sub(at)..end - at));
                    }
                    at += len;
                }
                Block::concat(kept)
            }
        }
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
            Block::Pieces(_) => match self.slice(start..end) {
                Block::Pieces(pieces) => {
                    let mut out = Vec::with_capacity((end - start) as usize);
                    for piece in &pieces {
                        out.extend_from_slice(&piece.read_all()?);
                    }
                    Ok(Bytes::from(out))
                }
                one => one.read_all(),
            },
        }
    }

    /// The whole block.
    pub fn read_all(&self) -> Result<Bytes, TaskError> {
        self.read_range(0..self.len())
    }

    /// Streams the block in pieces of at most `chunk` bytes (in memory:
    /// slices of any size are free, so one piece per piece of the block).
    pub fn chunks(&self, chunk: u64) -> BlockChunks {
        let mut leaves = Vec::new();
        self.leaves(&mut leaves);
        BlockChunks {
            leaves: leaves.into_iter(),
            current: None,
            chunk: chunk.max(1),
        }
    }

    /// The non-empty blocks this one is made of, in order.
    fn leaves(&self, out: &mut Vec<Block>) {
        match self {
            Block::Pieces(pieces) => pieces.iter().for_each(|p| p.leaves(out)),
            leaf if leaf.is_empty() => {}
            leaf => out.push(leaf.clone()),
        }
    }
}

/// Where the block's bytes are, for errors about them: the spill
/// directory or store object and the byte range, so a corrupt block can be
/// found and looked at.
impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Block::Memory(bytes) => write!(f, "{} bytes in memory", bytes.len()),
            Block::Spilled { file, range } => write!(
                f,
                "bytes {}..{} of a spill file in {}",
                range.start,
                range.end,
                file.dir().display()
            ),
            Block::Stored { key, range, .. } => write!(
                f,
                "bytes {}..{} of store object {key}",
                range.start, range.end
            ),
            Block::Pieces(pieces) => {
                f.write_str("pieces [")?;
                for (i, piece) in pieces.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{piece}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The pieces of a [`Block`], in order ([`Block::chunks`]).
pub struct BlockChunks {
    /// Blocks not started yet.
    leaves: std::vec::IntoIter<Block>,
    /// The block being read.
    current: Option<LeafChunks>,
    chunk: u64,
}

impl Iterator for BlockChunks {
    type Item = Result<Bytes, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(piece) = self.current.as_mut().and_then(LeafChunks::next) {
                return Some(piece);
            }
            let block = self.leaves.next()?;
            self.current = Some(LeafChunks {
                block,
                next: 0,
                chunk: self.chunk,
                ahead: None,
            });
        }
    }
}

/// The pieces of one block that is not made of pieces itself.
struct LeafChunks {
    block: Block,
    /// Offset of the next piece not yet requested.
    next: u64,
    chunk: u64,
    /// A store request already in flight for the piece at `next - len`.
    ahead: Option<RangesAhead>,
}

impl LeafChunks {
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

    fn next(&mut self) -> Option<Result<Bytes, TaskError>> {
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
/// task, in map order, as blocks read on demand — one block per map task
/// (a [`Block::Pieces`] when the task spilled part of it while running).
#[derive(Debug, Clone, Default)]
pub struct ShuffleInput {
    blocks: Vec<Block>,
}

impl ShuffleInput {
    /// Input made of `blocks`, one per map task, in map order.
    pub fn new(blocks: Vec<Block>) -> ShuffleInput {
        ShuffleInput { blocks }
    }

    /// The blocks, one per map task, in map order.
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

        // Pieces read as one block, sliced across piece boundaries.
        let pieces = Block::concat(vec![
            memory.slice(0..100),
            Block::Memory(Bytes::new()),
            spilled.slice(100..5_000),
            stored.slice(5_000..10_000),
        ]);
        assert!(matches!(&pieces, Block::Pieces(p) if p.len() == 3));
        assert_eq!(pieces.len(), 10_000);
        assert!(!pieces.is_in_memory());
        assert_eq!(concat(pieces.chunks(4096)), data);
        assert_eq!(&pieces.read_range(90..5_010).unwrap()[..], &data[90..5_010]);
        let middle = pieces.slice(4_990..5_020);
        assert_eq!(&middle.read_all().unwrap()[..], &data[4_990..5_020]);
        // 10 bytes of the spill file in 2 chunks, 20 of the object in 3.
        assert_eq!(middle.chunks(7).count(), 5);
        let single = Block::concat(vec![Block::Memory(Bytes::new()), memory.clone()]);
        assert!(matches!(single, Block::Memory(_)));

        // Errors about a block say where each of its bytes lies.
        assert_eq!(
            pieces.to_string(),
            format!(
                "pieces [100 bytes in memory; bytes 104..5004 of a spill file in {}; \
                 bytes 5002..10002 of store object obj]",
                dir.path().display()
            )
        );
    }
}
