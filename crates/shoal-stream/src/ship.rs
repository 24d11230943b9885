//! Shipped files (`--ship`): described and checksummed on the driver,
//! uploaded once to the cluster's store under the job's prefix (so they
//! are deleted with the job's other objects, by its driver or by the
//! workers' sweep when the driver is gone), fetched and verified once per
//! process and job, then linked into every task directory.
//!
//! ```text
//! driver: ShippedFile::local(path)  ─ sha256, size, mode ─┐
//!         upload() (cluster only)  ─▶ STORE/jobs/JOB/ship/NAME
//! task:   place() ─▶ ROOT/ship-JOB/NAME (fetched + verified once)
//!                     └── hard link ─▶ ROOT/TASK-DIR/NAME
//! ```

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shoal_store::inputs::{is_store_url, InputFile};
use shoal_store::{Store, StoreError};

/// Jobs whose shipped files a process keeps fetched at once; older ones
/// are removed when a newer job needs its own.
const JOBS_CACHED: usize = 4;

/// One `--ship` file as every task gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedFile {
    /// Its name in every task directory.
    pub name: String,
    /// Where tasks fetch it: a local path (embedded runs) or a store URL
    /// (cluster runs).
    pub source: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Permission bits, kept (so scripts stay executable).
    pub mode: u32,
}

/// Why a shipped file could not be described, uploaded or fetched.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The file named by `--ship` does not exist or cannot be read.
    #[error("--ship {path}: {source}")]
    Missing {
        /// The path as given.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Two shipped files would have the same name in the task directory.
    #[error("--ship: two files named {name}")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// The cluster's store refused the upload.
    #[error("uploading shipped file {name}: {source}")]
    Upload {
        /// The file's name.
        name: String,
        /// The store's error.
        source: Box<StoreError>,
    },
}

fn sha256_of(mut reader: impl Read, mut copy_to: Option<&mut File>) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(out) = copy_to.as_deref_mut() {
            out.write_all(&buf[..n])?;
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl ShippedFile {
    /// Describes the local file `path`: name, checksum, size, mode.
    pub fn local(path: &str) -> Result<ShippedFile, ShipError> {
        let missing = |source| ShipError::Missing {
            path: path.to_string(),
            source,
        };
        let file = File::open(path).map_err(missing)?;
        let meta = file.metadata().map_err(missing)?;
        if !meta.is_file() {
            return Err(missing(std::io::Error::other("not a regular file")));
        }
        let absolute = std::path::absolute(path).map_err(missing)?;
        Ok(ShippedFile {
            name: Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source: absolute.display().to_string(),
            sha256: sha256_of(file, None).map_err(missing)?,
            size: meta.len(),
            mode: meta.permissions().mode() & 0o7777,
        })
    }

    /// Describes every path, refusing two files of one name.
    pub fn all_local(paths: &[String]) -> Result<Vec<ShippedFile>, ShipError> {
        let mut files: Vec<ShippedFile> = Vec::new();
        for path in paths {
            let file = ShippedFile::local(path)?;
            if files.iter().any(|f| f.name == file.name) {
                return Err(ShipError::Duplicate { name: file.name });
            }
            files.push(file);
        }
        Ok(files)
    }

    /// Checks that the name is a plain file name.
    pub fn validate(&self) -> Result<(), String> {
        let plain = !self.name.is_empty()
            && self.name != "."
            && self.name != ".."
            && !self.name.contains(['/', '\0']);
        match plain {
            true => Ok(()),
            false => Err(format!(
                "shipped file name {:?} is not a file name",
                self.name
            )),
        }
    }
}

/// Shipped files uploaded for one job; [`Uploaded::remove`] deletes them
/// once the job is over (the cluster's driver deletes the job's prefix
/// too: this covers a job that never started).
#[derive(Debug)]
pub struct Uploaded {
    store: Store,
    prefix: String,
}

impl Uploaded {
    /// Deletes the uploaded files (best effort: a leftover costs only
    /// storage).
    pub fn remove(self) {
        let _ = self.store.delete_prefix(&self.prefix);
    }
}

/// Uploads `files` to `store_url` under `JOB_PREFIX/ship/` (the prefix of
/// the job's objects, `jobs/ID`) and points their sources there, so
/// workers on other machines can fetch them.
pub fn upload(
    files: &mut [ShippedFile],
    store_url: &str,
    job_prefix: &str,
) -> Result<Uploaded, ShipError> {
    let failed = |name: &str, source| ShipError::Upload {
        name: name.to_string(),
        source: Box::new(source),
    };
    let store = Store::open(store_url).map_err(|e| failed("(store)", e))?;
    let prefix = format!("{}/ship", job_prefix.trim_end_matches('/'));
    for file in files.iter_mut() {
        let key = format!("{prefix}/{}", file.name);
        store
            .put_file_if_absent(&key, Path::new(&file.source))
            .map_err(|e| failed(&file.name, e))?;
        file.source = store.object_url(&key);
    }
    Ok(Uploaded { store, prefix })
}

/// One fetched file: its path once fetched and verified.
type Entry = Arc<Mutex<Option<PathBuf>>>;

#[derive(Default)]
struct Cache {
    /// By (job directory, file name).
    entries: HashMap<(PathBuf, String), Entry>,
    /// Job directories in the order they were first used.
    jobs: VecDeque<PathBuf>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Puts every shipped file of job `job_id` into the task directory `dir`,
/// fetching each into `root/ship-JOB/` first (once per process and job;
/// concurrent tasks wait for the one fetching).
pub fn place(files: &[ShippedFile], job_id: &str, root: &Path, dir: &Path) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    let job_dir = root.join(format!("ship-{job_id}"));
    for file in files {
        let entry = {
            let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
            if !cache.jobs.contains(&job_dir) {
                cache.jobs.push_back(job_dir.clone());
                while cache.jobs.len() > JOBS_CACHED {
                    let Some(old) = cache.jobs.pop_front() else {
                        break;
                    };
                    cache.entries.retain(|(dir, _), _| *dir != old);
                    let _ = std::fs::remove_dir_all(&old);
                }
            }
            cache
                .entries
                .entry((job_dir.clone(), file.name.clone()))
                .or_default()
                .clone()
        };
        let mut fetched = entry.lock().unwrap_or_else(|p| p.into_inner());
        if fetched.is_none() {
            *fetched = Some(fetch(file, &job_dir)?);
        }
        let cached = fetched.as_ref().expect("fetched above");
        let target = dir.join(&file.name);
        if std::fs::hard_link(cached, &target).is_err() {
            std::fs::copy(cached, &target).map_err(|e| {
                format!(
                    "copying shipped file {} into {}: {e}",
                    file.name,
                    dir.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Copies `file` from its source into `job_dir`, verifying its checksum.
fn fetch(file: &ShippedFile, job_dir: &Path) -> Result<PathBuf, String> {
    let fail = |what: String| format!("shipped file {} from {}: {what}", file.name, file.source);
    std::fs::create_dir_all(job_dir)
        .map_err(|e| fail(format!("creating {}: {e}", job_dir.display())))?;
    let target = job_dir.join(&file.name);
    let partial = job_dir.join(format!(".{}.partial", file.name));
    let source: Box<dyn Read> = if is_store_url(&file.source) {
        InputFile::of(Path::new(&file.source))
            .and_then(|f| f.open())
            .map_err(|e| fail(e.to_string()))?
    } else {
        // A file store's objects are files: `file:///mnt/shared/…`.
        let path = file.source.strip_prefix("file://").unwrap_or(&file.source);
        Box::new(File::open(path).map_err(|e| fail(e.to_string()))?)
    };
    let mut out =
        File::create(&partial).map_err(|e| fail(format!("writing {}: {e}", partial.display())))?;
    let sha256 = sha256_of(source, Some(&mut out)).map_err(|e| fail(e.to_string()))?;
    drop(out);
    if sha256 != file.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(fail(format!(
            "checksum mismatch: sha256 {sha256}, expected {} (the file changed after the job started?)",
            file.sha256
        )));
    }
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(file.mode))
        .and_then(|()| std::fs::rename(&partial, &target))
        .map_err(|e| fail(format!("placing {}: {e}", target.display())))?;
    Ok(target)
}
