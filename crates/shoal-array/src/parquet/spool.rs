//! Where a task's encoded Parquet file accumulates until it is committed:
//! in memory while the task's share of the memory budget allows, then in
//! an anonymous spill file in the work directory — so `save_parquet` of a
//! partition larger than the budget holds about one row group, not the
//! whole file.

use std::io::{self, Read, Write};

use shoal_core::{Bytes, Reservation, SpillError, SpillFile, SpillSpace, SpillWriter, TaskError};

/// An [`io::Write`] for the Parquet writer: memory first, disk beyond the
/// task's budget.
pub(super) struct Spool {
    memory: Vec<u8>,
    held: Reservation,
    space: SpillSpace,
    disk: Option<SpillWriter>,
    /// The first spill failure, kept whole (the writer only passes on a
    /// message) so the task fails with it.
    failure: Option<SpillError>,
}

/// A finished spool.
pub(super) enum Spooled {
    /// The whole file, counted in the task's memory until dropped.
    Memory(Bytes, Reservation),
    /// The file in the work directory.
    Disk(SpillFile),
}

impl Spool {
    /// An empty spool counting its memory in `held`, spilling to `space`.
    pub(super) fn new(held: Reservation, space: SpillSpace) -> Spool {
        Spool {
            memory: Vec::new(),
            held,
            space,
            disk: None,
            failure: None,
        }
    }

    /// The bytes written, or the spill failure that stopped them.
    pub(super) fn finish(self) -> Result<Spooled, TaskError> {
        if let Some(failure) = self.failure {
            return Err(failure.into());
        }
        Ok(match self.disk {
            Some(disk) => Spooled::Disk(disk.finish()?),
            None => Spooled::Memory(Bytes::from(self.memory), self.held),
        })
    }

    /// The spill failure that stopped writing, if one did.
    pub(super) fn take_failure(&mut self) -> Option<TaskError> {
        self.failure.take().map(TaskError::from)
    }

    /// Turns the spill failure `err` into an I/O error for the writer,
    /// keeping it for [`Spool::finish`].
    fn failed(&mut self, err: SpillError) -> io::Error {
        let message = err.to_string();
        self.failure.get_or_insert(err);
        io::Error::other(message)
    }

    /// Moves what is in memory to a new spill file.
    fn spill_to_disk(&mut self) -> Result<&mut SpillWriter, SpillError> {
        let mut disk = self.space.create()?;
        disk.write(&self.memory)?;
        self.memory = Vec::new();
        self.held.free();
        Ok(self.disk.insert(disk))
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.disk.is_none() && self.held.try_grow(buf.len() as u64) {
            self.memory.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let written = match self.disk.as_mut() {
            Some(disk) => disk.write(buf),
            None => self.spill_to_disk().and_then(|disk| disk.write(buf)),
        };
        written.map_err(|e| self.failed(e))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes read from a spill file per request while uploading it.
const UPLOAD_CHUNK: u64 = 8 << 20;

/// A [`Read`] over a spill file, a chunk at a time.
pub(super) struct SpillReader {
    file: SpillFile,
    at: u64,
    chunk: Bytes,
}

impl SpillReader {
    /// Reads `file` from its start.
    pub(super) fn new(file: SpillFile) -> SpillReader {
        SpillReader {
            file,
            at: 0,
            chunk: Bytes::new(),
        }
    }
}

impl Read for SpillReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunk.is_empty() && self.at < self.file.len() {
            self.chunk = self
                .file
                .read_range(self.at..self.at + UPLOAD_CHUNK)
                .map_err(io::Error::other)?;
            self.at += self.chunk.len() as u64;
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use shoal_core::MemoryPool;

    use super::*;

    fn written(spool: Spool) -> Vec<u8> {
        match spool.finish().unwrap() {
            Spooled::Memory(bytes, _) => bytes.to_vec(),
            Spooled::Disk(file) => {
                let mut all = Vec::new();
                SpillReader::new(file).read_to_end(&mut all).unwrap();
                all
            }
        }
    }

    #[test]
    fn bytes_stay_in_memory_within_the_budget_and_spill_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for limit in [0, 10_000, 1 << 30] {
            let pool = MemoryPool::new(limit, 1);
            let task = pool.task();
            let mut spool = Spool::new(
                task.reservation(),
                SpillSpace::new(dir.path(), pool.clone()),
            );
            for piece in data.chunks(3_000) {
                spool.write_all(piece).unwrap();
            }
            let spilled = spool.disk.is_some();
            assert_eq!(spilled, limit < data.len() as u64, "limit {limit}");
            assert_eq!(written(spool), data, "limit {limit}");
            assert_eq!(
                pool.stats().spill_files,
                u64::from(spilled),
                "limit {limit}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "spill files are anonymous");
    }
}
