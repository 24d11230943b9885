//! What the benchmark examples share: an embedded session with a memory
//! budget, and the memory figures it reports at the end of the job, shown
//! on stderr (stdout carries only the result).

use std::sync::{Arc, Mutex};

use shoal_array::Session;
use shoal_core::{EmbeddedConfig, MemoryStats, ProgressEvent, ProgressSink};

/// Keeps the memory figures reported at the end of the job.
#[derive(Default)]
pub struct LastMemory(Mutex<Option<MemoryStats>>);

impl ProgressSink for LastMemory {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Memory(stats) = event {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(*stats);
        }
    }
}

impl LastMemory {
    /// Prints what the job held and spilled on stderr, when it said.
    pub fn report(&self) {
        let stats = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stats) = stats {
            eprintln!(
                "peak held {} MiB of a {} MiB budget, spilled {} MiB in {} files",
                stats.peak_held >> 20,
                stats.budget >> 20,
                stats.spilled_bytes >> 20,
                stats.spill_files
            );
        }
    }
}

/// An embedded session of `threads` threads within `budget` bytes,
/// spilling to `work_dir`, one attempt per task; and what it reports of
/// its memory.
pub fn session(budget: u64, work_dir: String, threads: usize) -> (Session, Arc<LastMemory>) {
    let memory = Arc::new(LastMemory::default());
    let session = Session::with_config(EmbeddedConfig {
        threads,
        max_attempts: 1,
        memory_budget: budget,
        work_dir: work_dir.into(),
    })
    .with_progress(memory.clone());
    (session, memory)
}
