//! Task directories: a fresh working directory per attempt, holding the
//! shipped files, removed when the attempt ends.
//!
//! Every process keeps its task directories (and its fetched shipped
//! files) under one root, `BASE/shoal-tasks-PID`, where BASE is the
//! work directory. A process killed outright cannot clean up, so the
//! first task of a process removes the roots of processes that no longer
//! run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use shoal_core::{TaskError, TaskId};

use crate::ship::{self, ShippedFile};

const ROOT_PREFIX: &str = "shoal-tasks-";

/// This process's root under `base`, created (and the roots of dead
/// processes swept) on first use.
pub fn process_root(base: &Path) -> Result<PathBuf, TaskError> {
    static SWEPT: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let root = base.join(format!("{ROOT_PREFIX}{}", std::process::id()));
    let mut swept = SWEPT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if swept.insert(base.to_path_buf()) {
        sweep_dead_roots(base);
    }
    std::fs::create_dir_all(&root).map_err(|e| {
        TaskError::caused_by(
            format!("creating the task directory root {}", root.display()),
            e,
        )
    })?;
    Ok(root)
}

/// Removes `BASE/shoal-tasks-PID` of every PID that is not running.
fn sweep_dead_roots(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(ROOT_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes this process's root under `base` (task directories and fetched
/// shipped files): for a process that is done running tasks.
pub fn remove_process_root(base: &Path) {
    let _ = std::fs::remove_dir_all(base.join(format!("{ROOT_PREFIX}{}", std::process::id())));
}

/// One attempt's working directory; removed when dropped.
#[derive(Debug)]
pub struct TaskDir {
    path: PathBuf,
}

impl TaskDir {
    /// A fresh directory for attempt `id` under this process's root in
    /// `base`, holding `ship`.
    pub fn create(base: &Path, id: &TaskId, ship: &[ShippedFile]) -> Result<TaskDir, TaskError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root = process_root(base)?;
        let path = root.join(format!(
            "{}-s{}-p{}-a{}-{}",
            id.job_id,
            id.stage,
            id.partition,
            id.attempt,
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).map_err(|e| {
            TaskError::caused_by(format!("creating the task directory {}", path.display()), e)
        })?;
        let dir = TaskDir { path };
        ship::place(ship, &id.job_id, &root, &dir.path).map_err(TaskError::new)?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the attempt's output file is written before it is committed:
    /// beside the directory, out of the program's sight.
    pub fn output_path(&self) -> PathBuf {
        self.path.with_extension("out")
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        let _ = std::fs::remove_file(self.output_path());
    }
}
