//! Spill files in the work directory (`--work-dir`).
//!
//! Every spill file is **anonymous**: created unlinked (`O_TMPFILE` on
//! Linux, create-then-unlink elsewhere), so it has no name in the
//! directory and its blocks are freed by the kernel when the last handle
//! closes — when its reader finishes with it, when the job ends or is
//! cancelled, and when the process is killed. A crashed run therefore
//! leaves nothing behind to clear at the next start, and two runs sharing
//! a work directory can never touch each other's files.
//!
//! A full disk is an error naming the work directory and the bytes the
//! spill still needed, not a generic I/O failure.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::{MemoryPool, TaskError, TaskErrorKind};

/// Why spilling failed.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// The disk under the work directory is full.
    #[error(
        "no space left in the work directory {dir} (--work-dir): spilling needed {needed} more bytes after writing {written}"
    )]
    DiskFull {
        /// The work directory.
        dir: PathBuf,
        /// Bytes that could not be written.
        needed: u64,
        /// Bytes of this spill file written before the disk filled.
        written: u64,
    },
    /// Any other I/O failure.
    #[error("{op} a spill file in the work directory {dir} (--work-dir)")]
    Io {
        /// What was being done, e.g. `writing`.
        op: &'static str,
        /// The work directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl From<SpillError> for TaskError {
    fn from(err: SpillError) -> Self {
        // A full disk stays full for the next attempt: fail the job at once
        // with the message that says what to do.
        let kind = match err {
            SpillError::DiskFull { .. } => TaskErrorKind::Fatal,
            SpillError::Io { .. } => TaskErrorKind::Retryable,
        };
        TaskError::caused_by("spilling to disk", err).with_kind_of(kind)
    }
}

/// Where a job's spill files go, and the pool that counts them. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct SpillSpace {
    inner: Arc<SpaceInner>,
}

#[derive(Debug)]
struct SpaceInner {
    dir: PathBuf,
    pool: MemoryPool,
}

impl SpillSpace {
    /// Spill files in `dir` (created when first needed), counted in `pool`.
    pub fn new(dir: impl Into<PathBuf>, pool: MemoryPool) -> SpillSpace {
        SpillSpace {
            inner: Arc::new(SpaceInner {
                dir: dir.into(),
                pool,
            }),
        }
    }

    /// The work directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A new anonymous spill file to write.
    pub fn create(&self) -> Result<SpillWriter, SpillError> {
        let io = |op, source| SpillError::Io {
            op,
            dir: self.inner.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.inner.dir)
            .map_err(|e| io("creating the directory for", e))?;
        let file = tempfile::tempfile_in(&self.inner.dir).map_err(|e| io("creating", e))?;
        self.inner.pool.count_spill(0);
        Ok(SpillWriter {
            file,
            written: 0,
            space: self.clone(),
        })
    }

    #[cfg(test)]
    pub(crate) fn writer_over(&self, file: File) -> SpillWriter {
        SpillWriter {
            file,
            written: 0,
            space: self.clone(),
        }
    }
}

/// A spill file being written.
#[derive(Debug)]
pub struct SpillWriter {
    file: File,
    written: u64,
    space: SpillSpace,
}

impl SpillWriter {
    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), SpillError> {
        if let Err(err) = self.file.write_all(bytes) {
            return Err(self.failed("writing", err, bytes.len() as u64));
        }
        self.written += bytes.len() as u64;
        self.space
            .inner
            .pool
            .count_spilled_bytes(bytes.len() as u64);
        Ok(())
    }

    /// Bytes written so far (the offset of the next write).
    pub fn len(&self) -> u64 {
        self.written
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    fn failed(&self, op: &'static str, err: io::Error, needed: u64) -> SpillError {
        let dir = self.space.inner.dir.clone();
        if err.kind() == io::ErrorKind::StorageFull || err.raw_os_error() == Some(28) {
            SpillError::DiskFull {
                dir,
                needed,
                written: self.written,
            }
        } else {
            SpillError::Io {
                op,
                dir,
                source: err,
            }
        }
    }

    /// Ends writing; the file can now be read by range from any thread.
    pub fn finish(mut self) -> Result<SpillFile, SpillError> {
        if let Err(err) = self.file.flush() {
            return Err(self.failed("flushing", err, 0));
        }
        Ok(SpillFile {
            inner: Arc::new(FileInner {
                file: self.file,
                len: self.written,
                dir: self.space.inner.dir.clone(),
            }),
        })
    }
}

#[derive(Debug)]
struct FileInner {
    file: File,
    len: u64,
    dir: PathBuf,
}

/// A written spill file, read by ranges. Cheap to clone; its disk space
/// is freed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SpillFile {
    inner: Arc<FileInner>,
}

impl SpillFile {
    /// The file's length.
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The directory the (anonymous) file lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Reads bytes `range` (clamped to the file).
    pub fn read_range(&self, range: Range<u64>) -> Result<Bytes, SpillError> {
        let end = range.end.min(self.inner.len);
        let start = range.start.min(end);
        let mut buf = vec![0u8; (end - start) as usize];
        self.inner
            .file
            .read_exact_at(&mut buf, start)
            .map_err(|source| SpillError::Io {
                op: "reading",
                dir: self.inner.dir.clone(),
                source,
            })?;
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_anonymous_and_read_back_by_range() {
        let dir = tempfile::tempdir().unwrap();
        let pool = MemoryPool::unbounded();
        let space = SpillSpace::new(dir.path().join("work"), pool.clone());
        let mut writer = space.create().unwrap();
        writer.write(b"hello ").unwrap();
        writer.write(b"world").unwrap();
        let file = writer.finish().unwrap();
        assert_eq!(&file.read_range(6..11).unwrap()[..], b"world");
        assert_eq!(&file.read_range(3..100).unwrap()[..], b"lo world");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("work"))
            .unwrap()
            .collect();
        assert!(names.is_empty(), "spill files have no name: {names:?}");
        assert_eq!(pool.stats().spilled_bytes, 11);
        assert_eq!(pool.stats().spill_files, 1);
    }

    #[test]
    fn a_full_disk_names_the_work_dir_and_the_bytes_needed() {
        let space = SpillSpace::new("/some/work/dir", MemoryPool::unbounded());
        // Writing to /dev/full fails with ENOSPC, as a full disk does.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut writer = space.writer_over(full);
        let err = writer.write(&[0u8; 4096]).unwrap_err();
        assert!(
            matches!(err, SpillError::DiskFull { needed: 4096, .. }),
            "{err:?}"
        );
        let message = TaskError::from(err).chain();
        assert!(message.contains("/some/work/dir (--work-dir)"), "{message}");
        assert!(message.contains("needed 4096 more bytes"), "{message}");
    }
}
