//! Run files: sorted records as frames, `[u32 payload bytes][u32 records]
//! [payload]`, little-endian, read back one frame at a time.

use crate::extsort::{BatchSource, RunCodec};
use crate::{SpillFile, SpillSpace, SpillWriter, TaskError};

const HEADER: u64 = 8;

/// Writes records to an anonymous spill file as frames of about `frame`
/// bytes, read back in order by a [`RunReader`]: for operators that
/// partition data to disk (a grace hash join's sides), sorted or not.
pub struct RunWriter<C> {
    codec: C,
    writer: SpillWriter,
    frame: usize,
    /// Records per frame, adapted to the records' encoded size.
    per_frame: usize,
    payload: Vec<u8>,
}

impl<C: RunCodec> RunWriter<C> {
    /// A writer of a new spill file in `space`.
    pub fn new(space: &SpillSpace, codec: C, frame: usize) -> Result<Self, TaskError> {
        let width = std::mem::size_of::<C::Item>().max(1);
        Ok(RunWriter {
            codec,
            writer: space.create()?,
            frame,
            per_frame: (frame / width).max(1),
            payload: Vec::new(),
        })
    }

    /// Appends records.
    pub fn write(&mut self, items: &[C::Item]) -> Result<(), TaskError> {
        let mut at = 0;
        while at < items.len() {
            let chunk = &items[at..(at + self.per_frame).min(items.len())];
            self.payload.clear();
            self.codec.encode(chunk, &mut self.payload);
            if u32::try_from(self.payload.len()).is_err() && chunk.len() > 1 {
                // Huge records: smaller frames rather than overflow u32.
                self.per_frame = (chunk.len() / 2).max(1);
                continue;
            }
            let mut header = [0u8; HEADER as usize];
            header[..4].copy_from_slice(&(self.payload.len() as u32).to_le_bytes());
            header[4..].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
            self.writer.write(&header)?;
            self.writer.write(&self.payload)?;
            at += chunk.len();
            // Aim the next frame at the target size.
            let per_record = self.payload.len().div_ceil(chunk.len()).max(1);
            self.per_frame = (self.frame / per_record).max(1);
        }
        Ok(())
    }

    /// Ends writing; read the file back with a [`RunReader`].
    pub fn finish(self) -> Result<SpillFile, TaskError> {
        Ok(self.writer.finish()?)
    }
}

/// Writes `items` (already sorted) as one run.
pub(crate) fn write_run<C: RunCodec + Clone>(
    space: &SpillSpace,
    codec: &C,
    items: Vec<C::Item>,
    frame: usize,
) -> Result<SpillFile, TaskError> {
    let mut writer = RunWriter::new(space, codec.clone(), frame)?;
    writer.write(&items)?;
    drop(items);
    writer.finish()
}

/// Reads a run file frame by frame. The file's disk space is freed when
/// the reader is dropped.
pub struct RunReader<C> {
    file: Option<SpillFile>,
    codec: C,
    pos: u64,
    /// Bytes read per request beyond the header: the last frame's size.
    guess: u64,
}

impl<C: RunCodec> RunReader<C> {
    /// A reader of the run in `file`.
    pub fn new(file: SpillFile, codec: C) -> Self {
        RunReader {
            file: Some(file),
            codec,
            pos: 0,
            guess: 4096,
        }
    }
}

impl<C: RunCodec> BatchSource<C::Item> for RunReader<C> {
    fn next_batch(&mut self) -> Result<Option<Vec<C::Item>>, TaskError> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        if self.pos >= file.len() {
            // Done: close it now so its disk space is freed at once.
            self.file = None;
            return Ok(None);
        }
        let mut bytes = file.read_range(self.pos..self.pos + HEADER + self.guess)?;
        let corrupt = |what: String| TaskError::fatal(format!("corrupt spill run: {what}"));
        let (header, _) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt("frame header cut short".into()))?;
        let len = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4")));
        let count = u32::from_le_bytes(header[4..].try_into().expect("4")) as usize;
        if (bytes.len() as u64) < HEADER + len {
            bytes = file.read_range(self.pos..self.pos + HEADER + len)?;
            if (bytes.len() as u64) < HEADER + len {
                return Err(corrupt(format!("frame at {} cut short", self.pos)));
            }
        }
        let mut out = Vec::with_capacity(count);
        self.codec
            .decode(
                &bytes[HEADER as usize..(HEADER + len) as usize],
                count,
                &mut out,
            )
            .map_err(corrupt)?;
        self.pos += HEADER + len;
        self.guess = len;
        Ok(Some(out))
    }
}
