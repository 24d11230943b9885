//! The synchronous [`Store`] facade over `object_store`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{StoreError, StoreKind, StoreUrl};

/// One object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key, relative to the store's root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A handle on one store root. Cheap to clone; safe to share across threads.
///
/// Calls block the calling thread. They must not be made from inside an
/// async runtime's worker thread: Shoal's executors call them from plain
/// task threads, and async callers should use `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    url: StoreUrl,
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

/// The runtime that drives every store's I/O. One small runtime for the
/// whole process: the executors' task threads block on it, so it only
/// needs threads for the network and `spawn_blocking` file work.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("shoal-store-io")
            .enable_all()
            .build()
            .expect("cannot start the storage I/O runtime")
    })
}

/// In-memory stores by name: `memory://x` opened twice is the same store,
/// so a driver and the tasks it runs in-process see each other's writes.
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    stores
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone()
}

impl Store {
    /// Opens the store a URL names, creating a local root directory when needed.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let url = StoreUrl::parse(url)?;
        let inner: Arc<dyn ObjectStore> = match &url.kind {
            StoreKind::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|err| StoreError::InvalidUrl {
                    url: url.to_string(),
                    reason: format!("cannot create directory: {err}"),
                })?;
                let fs = LocalFileSystem::new_with_prefix(dir).map_err(|source| {
                    StoreError::Backend {
                        op: "open",
                        url: url.to_string(),
                        source,
                    }
                })?;
                Arc::new(fs)
            }
            StoreKind::Memory(name) => memory_store(name),
        };
        Ok(Store { url, inner })
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &StoreUrl {
        &self.url
    }

    /// The full URL of `key`, for messages.
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{}", self.url.to_string().trim_end_matches('/'), key)
    }

    fn backend(&self, op: &'static str, key: &str, source: object_store::Error) -> StoreError {
        match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound {
                op,
                url: self.object_url(key),
            },
            source => StoreError::Backend {
                op,
                url: self.object_url(key),
                source,
            },
        }
    }

    /// Writes `data` at `key`, replacing what is there, atomically.
    pub fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let path = Path::from(key);
        runtime()
            .block_on(self.inner.put(&path, PutPayload::from(data)))
            .map(drop)
            .map_err(|e| self.backend("put", key, e))
    }

    /// Publishes `parts` (concatenated) at `key` only if nothing is there
    /// yet. Returns `true` when this call published the object and `false`
    /// when another writer had already published one — whose bytes are
    /// left untouched. This is the commit point of a task attempt.
    pub fn put_if_absent_parts(&self, key: &str, parts: Vec<Bytes>) -> Result<bool, StoreError> {
        let path = Path::from(key);
        let payload: PutPayload = parts.into_iter().collect();
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match runtime().block_on(self.inner.put_opts(&path, payload, opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.backend("commit", key, e)),
        }
    }

    /// [`Store::put_if_absent_parts`] for one buffer.
    pub fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        self.put_if_absent_parts(key, vec![data])
    }

    /// Reads the whole object at `key`.
    pub fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = Path::from(key);
        runtime()
            .block_on(async { self.inner.get(&path).await?.bytes().await })
            .map_err(|e| self.backend("get", key, e))
    }

    /// Reads bytes `range` of the object at `key`.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let path = Path::from(key);
        runtime()
            .block_on(self.inner.get_range(&path, range))
            .map_err(|e| self.backend("get_range", key, e))
    }

    /// The size of the object at `key`.
    pub fn size(&self, key: &str) -> Result<u64, StoreError> {
        let path = Path::from(key);
        runtime()
            .block_on(self.inner.head(&path))
            .map(|meta| meta.size)
            .map_err(|e| self.backend("head", key, e))
    }

    /// Every object below `prefix` (a folder-like key prefix), sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let path = Path::from(prefix);
        let prefix_arg = (!prefix.is_empty()).then_some(&path);
        let mut found: Vec<ObjectInfo> = runtime()
            .block_on(self.inner.list(prefix_arg).try_collect::<Vec<_>>())
            .map_err(|e| self.backend("list", prefix, e))?
            .into_iter()
            .map(|meta| ObjectInfo {
                key: meta.location.to_string(),
                size: meta.size,
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// Deletes the object at `key`; a missing object is not an error.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        match runtime().block_on(self.inner.delete(&Path::from(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend("delete", key, e)),
        }
    }

    /// Deletes every object below `prefix`; missing objects are not an error.
    pub fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        for object in self.list(prefix)? {
            let path = Path::from(object.key.as_str());
            match runtime().block_on(self.inner.delete(&path)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.backend("delete", &object.key, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores() -> (tempfile::TempDir, Vec<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let file = Store::open(dir.path().to_str().unwrap()).unwrap();
        let memory = Store::open(&format!("memory://test-{}", std::process::id())).unwrap();
        (dir, vec![file, memory])
    }

    #[test]
    fn first_commit_wins_on_every_backend() {
        let (_dir, stores) = stores();
        for store in stores {
            let parts = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")];
            assert!(store.put_if_absent_parts("j/s0/p0", parts).unwrap());
            assert!(!store
                .put_if_absent("j/s0/p0", Bytes::from_static(b"zz"))
                .unwrap());
            assert_eq!(&store.get("j/s0/p0").unwrap()[..], b"abcd");
            assert_eq!(&store.get_range("j/s0/p0", 1..3).unwrap()[..], b"bc");
            assert_eq!(store.size("j/s0/p0").unwrap(), 4);
        }
    }

    #[test]
    fn list_and_delete_by_prefix() {
        let (_dir, stores) = stores();
        for store in stores {
            store.put("x/b", Bytes::from_static(b"2")).unwrap();
            store.put("x/a", Bytes::from_static(b"1")).unwrap();
            store.put("y/a", Bytes::from_static(b"3")).unwrap();
            let keys: Vec<_> = store
                .list("x")
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect();
            assert_eq!(keys, ["x/a", "x/b"]);
            store.delete_prefix("x").unwrap();
            assert!(store.list("x").unwrap().is_empty());
            assert_eq!(store.list("y").unwrap().len(), 1);
        }
    }

    #[test]
    fn missing_object_names_its_url() {
        let (_dir, stores) = stores();
        for store in stores {
            let err = store.get("nope/key").unwrap_err();
            assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
            assert!(err.to_string().contains("nope/key"), "{err}");
        }
    }
}
