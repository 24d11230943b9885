//! The synchronous [`Store`] facade over `object_store`.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};

use crate::backend::container_client;
use crate::io_counters::{count_read, count_written};
use crate::options::{configured, StoreOptions, Tuning};
use crate::reader::ObjectReader;
use crate::rt::block_on;
use crate::{StoreError, StoreKind, StoreUrl};

/// Size of one part of a multipart upload. S3 needs at least 5 MiB per
/// part (but the last) and at most 10,000 parts: 16 MiB parts reach
/// 160 GB, beyond any partition file.
const PART_SIZE: usize = 16 << 20;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// Bytes per request of [`fetch_pieces`]: object stores serve several
/// moderate requests faster than one large one (each server-side stream
/// has its own disk and network pipeline), and S3 charges per request
/// little enough that 1 MiB pieces cost nothing noticeable.
const PIECE: u64 = 1 << 20;
/// Requests of one [`fetch_pieces`] call in flight at once.
const PIECES_IN_FLIGHT: usize = 8;

/// Bytes `range` of `path` as the frames the HTTP client received them in.
/// Not joined into one buffer here: that is a fresh block and a copy per
/// request, and under mimalloc such short-lived multi-MiB blocks go back
/// to the OS and are faulted in again (with transparent huge pages, 2 MiB
/// zeroed per fault) — measured on `bench/s3.sh`'s CSV set as 0.5–1.3 s
/// of system time per job against 0.1–0.2 s from local disk.
pub(crate) async fn get_frames(
    store: &dyn ObjectStore,
    path: &Path,
    range: Range<u64>,
) -> object_store::Result<VecDeque<Bytes>> {
    let options = GetOptions::new().with_range(Some(range));
    let mut stream = store.get_opts(path, options).await?.into_stream();
    let mut frames = VecDeque::new();
    while let Some(frame) = stream.try_next().await? {
        if !frame.is_empty() {
            frames.push_back(frame);
        }
    }
    Ok(frames)
}

/// `parts` as one buffer: itself when there is one, else one copy.
fn join(parts: Vec<Bytes>) -> Bytes {
    if parts.len() <= 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut joined = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in &parts {
        joined.extend_from_slice(part);
    }
    joined.into()
}

/// `ranges` with each run of ranges that follow one another without a gap
/// (a row group's column chunks lie side by side) merged into one; and
/// where each given range lies: (merged range, offset in it). Fewer ranges
/// are fewer requests, and each costs the server work of its own (s3s-fs:
/// about 1 ms of CPU).
fn coalesce(ranges: &[Range<u64>]) -> (Vec<Range<u64>>, Vec<(usize, u64)>) {
    let mut merged: Vec<Range<u64>> = Vec::new();
    let mut placed = Vec::with_capacity(ranges.len());
    for range in ranges {
        let index = merged.len().saturating_sub(1);
        match merged.last_mut() {
            Some(last) if last.end == range.start && !range.is_empty() => {
                placed.push((index, range.start - last.start));
                last.end = range.end;
            }
            _ => {
                placed.push((merged.len(), 0));
                merged.push(range.clone());
            }
        }
    }
    (merged, placed)
}

/// Fetches `ranges` of `path` as concurrent requests of at most [`PIECE`]
/// bytes (neighbouring ranges fetched together, [`coalesce`]); one buffer
/// per range.
async fn fetch_pieces(
    store: &dyn ObjectStore,
    path: &Path,
    ranges: &[Range<u64>],
) -> object_store::Result<Vec<Bytes>> {
    let (merged, placed) = coalesce(ranges);
    let fetched = fetch_merged(store, path, &merged).await?;
    Ok(ranges
        .iter()
        .zip(placed)
        .map(|(range, (m, offset))| {
            let len = (range.end - range.start) as usize;
            let at = (offset as usize).min(fetched[m].len());
            fetched[m].slice(at..(at + len).min(fetched[m].len()))
        })
        .collect())
}

/// Fetches `ranges` as concurrent requests of at most [`PIECE`] bytes,
/// then joins each range's pieces (one copy, into one block).
async fn fetch_merged(
    store: &dyn ObjectStore,
    path: &Path,
    ranges: &[Range<u64>],
) -> object_store::Result<Vec<Bytes>> {
    use futures::StreamExt;
    let mut pieces = Vec::new();
    for (i, range) in ranges.iter().enumerate() {
        let mut at = range.start;
        while at < range.end {
            let end = (at + PIECE).min(range.end);
            pieces.push((i, at..end));
            at = end;
        }
    }
    let fetched: Vec<(usize, VecDeque<Bytes>)> = futures::stream::iter(pieces)
        .map(|(i, piece)| async move {
            Ok::<_, object_store::Error>((i, get_frames(store, path, piece).await?))
        })
        .buffered(PIECES_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut out: Vec<Vec<Bytes>> = vec![Vec::new(); ranges.len()];
    for (i, frames) in fetched {
        out[i].extend(frames);
    }
    Ok(out.into_iter().map(join).collect())
}

/// Byte ranges being fetched in the background ([`Store::get_ranges_ahead`]).
/// Dropping it cancels the fetch.
pub struct RangesAhead {
    store: Store,
    key: String,
    handle: Option<tokio::task::JoinHandle<object_store::Result<Vec<Bytes>>>>,
}

impl RangesAhead {
    /// Waits for the bytes, one `Bytes` per requested range.
    pub fn wait(mut self) -> Result<Vec<Bytes>, StoreError> {
        let Some(handle) = self.handle.take() else {
            return Ok(Vec::new());
        };
        match block_on(handle) {
            Ok(result) => result
                .inspect(|pieces| pieces.iter().for_each(|b| count_read(b.len())))
                .map_err(|e| self.store.backend("get_range", &self.key, e)),
            Err(join) => Err(StoreError::Interrupted {
                op: "get_range",
                url: self.store.object_url(&self.key),
                reason: join.to_string(),
            }),
        }
    }
}

impl Drop for RangesAhead {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A private staging key next to `path`, hidden (`.`-prefixed) so that a
/// writer killed mid-upload leaves nothing an input listing would read.
fn staging_path(path: &Path) -> Path {
    static STAGED: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = path.to_string();
    let (dir, name) = text
        .rsplit_once('/')
        .map_or(("", text.as_str()), |(d, n)| (d, n));
    let hidden = format!(
        ".{name}.staging-{}-{nanos}-{}",
        std::process::id(),
        STAGED.fetch_add(1, Ordering::Relaxed)
    );
    match dir {
        "" => Path::from(hidden),
        dir => Path::from(format!("{dir}/{hidden}")),
    }
}

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
    /// Over the network (object stores, HDFS): large uploads go in parts.
    remote: bool,
    tuning: Tuning,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

impl Store {
    /// Opens the store a URL names with the process-wide options (see
    /// [`crate::configure`]), creating a local root directory when needed.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &configured())
    }

    /// Opens the store a URL names with explicit options (on top of the
    /// backend's environment variables).
    pub fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let url = StoreUrl::parse(url)?;
        let tuning = options.tuning()?;
        let container = container_client(&url, options)?;
        let inner: Arc<dyn ObjectStore> = match url.prefix() {
            "" => container,
            prefix => Arc::new(PrefixStore::new(container, prefix)),
        };
        let remote = matches!(url.kind, StoreKind::Object { .. });
        Ok(Store {
            url,
            inner,
            remote,
            tuning,
        })
    }

    /// Opens the bucket (container, directory) of `url` and returns it with
    /// the URL's key prefix: how readers address `s3://bucket/dir/*.csv`,
    /// whose keys may only partly be a folder.
    pub fn open_container(url: &str) -> Result<(Store, String), StoreError> {
        let parsed = StoreUrl::parse(url)?;
        let root = parsed.container_root();
        let store = Store::open(&root.to_string())?;
        Ok((store, parsed.prefix().to_string()))
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
            error => StoreError::Backend {
                op,
                url: self.object_url(key),
                error,
            },
        }
    }

    fn is_large(&self, len: usize) -> bool {
        self.remote && len as u64 > self.tuning.multipart_threshold
    }

    /// Writes `data` at `key`, replacing what is there, atomically. On
    /// object stores, data above `multipart_threshold` is uploaded in parts
    /// and appears only when the upload completes.
    pub fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let path = Path::from(key);
        count_written(data.len());
        let result = if self.is_large(data.len()) {
            block_on(self.put_in_parts(&path, vec![data]))
        } else {
            block_on(self.inner.put(&path, PutPayload::from(data))).map(drop)
        };
        result.map_err(|e| self.backend("put", key, e))
    }

    async fn put_in_parts(&self, path: &Path, parts: Vec<Bytes>) -> object_store::Result<()> {
        let upload = self.inner.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        for part in parts {
            if let Err(err) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                // Best effort: an abandoned upload only costs storage until
                // the bucket's lifecycle rule removes it.
                let _ = writer.abort().await;
                return Err(err);
            }
            writer.put(part);
        }
        writer.finish().await.map(drop)
    }

    /// Publishes `parts` (concatenated) at `key` only if nothing is there
    /// yet. Returns `true` when this call published the object and `false`
    /// when another writer had already published one — whose bytes are
    /// left untouched. This is the commit point of a task attempt.
    ///
    /// Small objects are one conditional PUT (`If-None-Match: *` on S3).
    /// On object stores, objects above `multipart_threshold` are uploaded
    /// in parts to a private staging key and then copied to `key` with a
    /// conditional copy (on S3 a multipart copy completed with
    /// `If-None-Match: *`); the staging object is deleted either way. Both
    /// paths keep first-commit-wins: only the conditional step publishes.
    pub fn put_if_absent_parts(&self, key: &str, parts: Vec<Bytes>) -> Result<bool, StoreError> {
        let len: usize = parts.iter().map(Bytes::len).sum();
        let path = Path::from(key);
        count_written(len);
        if self.is_large(len) {
            return block_on(self.commit_in_parts(&path, parts))
                .map_err(|e| self.backend("commit", key, e));
        }
        let payload: PutPayload = parts.into_iter().collect();
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match block_on(self.inner.put_opts(&path, payload, opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.backend("commit", key, e)),
        }
    }

    async fn commit_in_parts(&self, path: &Path, parts: Vec<Bytes>) -> object_store::Result<bool> {
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let staging = Path::from(format!(
            "{path}.staging-{}-{nanos}-{}",
            std::process::id(),
            STAGED.fetch_add(1, Ordering::Relaxed)
        ));
        let outcome = match self.put_in_parts(&staging, parts).await {
            Ok(()) => match self.inner.copy_if_not_exists(&staging, path).await {
                Ok(()) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match self.inner.delete(&staging).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) if outcome.is_ok() => return Err(e),
            Err(_) => {}
        }
        outcome
    }

    /// Publishes the contents of the local file `file` at `key` only if
    /// nothing is there yet, like [`Store::put_if_absent_parts`], without
    /// ever holding a large file in memory: files above
    /// `multipart_threshold` stream in parts to a staging key (on a file
    /// store a hidden sibling, `.NAME.staging-…`) published by a
    /// conditional copy — a hard link on a file store.
    pub fn put_file_if_absent(
        &self,
        key: &str,
        file: &std::path::Path,
    ) -> Result<bool, StoreError> {
        let io = |error: std::io::Error| StoreError::Io {
            op: "read",
            url: file.display().to_string(),
            error,
        };
        let opened = std::fs::File::open(file).map_err(io)?;
        let len = opened.metadata().map_err(io)?.len();
        self.put_read_if_absent(key, opened, len, &file.display().to_string())
    }

    /// [`Store::put_file_if_absent`] for the `len` bytes `reader` gives —
    /// e.g. an anonymous spill file, which vanishes with the process
    /// however it ends; `name` names the reader in errors.
    pub fn put_read_if_absent(
        &self,
        key: &str,
        mut reader: impl std::io::Read + Send,
        len: u64,
        name: &str,
    ) -> Result<bool, StoreError> {
        let io = |error: std::io::Error| StoreError::Io {
            op: "read",
            url: name.to_string(),
            error,
        };
        if len <= self.tuning.multipart_threshold {
            let mut data = Vec::with_capacity(len as usize);
            std::io::Read::read_to_end(&mut reader, &mut data).map_err(io)?;
            return self.put_if_absent(key, Bytes::from(data));
        }
        let path = Path::from(key);
        let staging = staging_path(&path);
        let outcome = block_on(async {
            let upload = self.inner.put_multipart(&staging).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            loop {
                let mut part = vec![0u8; PART_SIZE];
                let n =
                    read_full(&mut reader, &mut part).map_err(|e| object_store::Error::Generic {
                        store: "local file",
                        source: Box::new(io(e)),
                    });
                let n = match n {
                    Ok(n) => n,
                    Err(err) => {
                        let _ = writer.abort().await;
                        return Err(err);
                    }
                };
                if n == 0 {
                    break;
                }
                part.truncate(n);
                count_written(n);
                if let Err(err) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    let _ = writer.abort().await;
                    return Err(err);
                }
                writer.put(Bytes::from(part));
            }
            writer.finish().await?;
            match self.inner.copy_if_not_exists(&staging, &path).await {
                Ok(()) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        });
        let _ = block_on(self.inner.delete(&staging));
        outcome.map_err(|e| self.backend("commit", key, e))
    }

    /// [`Store::put_if_absent_parts`] for one buffer.
    pub fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        self.put_if_absent_parts(key, vec![data])
    }

    /// Reads the whole object at `key`.
    pub fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = Path::from(key);
        block_on(async { self.inner.get(&path).await?.bytes().await })
            .inspect(|b| count_read(b.len()))
            .map_err(|e| self.backend("get", key, e))
    }

    /// Reads bytes `range` of the object at `key`.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let path = Path::from(key);
        block_on(self.inner.get_range(&path, range))
            .inspect(|b| count_read(b.len()))
            .map_err(|e| self.backend("get_range", key, e))
    }

    /// Reads several byte ranges of the object at `key` at once, as
    /// concurrent requests of at most 1 MiB each (within the store's
    /// `max_concurrency`).
    pub fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, StoreError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let path = Path::from(key);
        block_on(fetch_pieces(&*self.inner, &path, ranges))
            .inspect(|pieces| pieces.iter().for_each(|b| count_read(b.len())))
            .map_err(|e| self.backend("get_range", key, e))
    }

    /// The last `len` bytes of the object at `key` (all of it when
    /// smaller) and the object's size, in one request: how footer-first
    /// formats open a file.
    pub fn get_tail(&self, key: &str, len: u64) -> Result<(Bytes, u64), StoreError> {
        let path = Path::from(key);
        let opts = GetOptions {
            range: Some(GetRange::Suffix(len.max(1))),
            ..Default::default()
        };
        block_on(async {
            let result = self.inner.get_opts(&path, opts).await?;
            let size = result.meta.size;
            let bytes = result.bytes().await?;
            count_read(bytes.len());
            Ok((bytes, size))
        })
        .map_err(|e| self.backend("get_range", key, e))
    }

    /// Starts fetching `ranges` of the object at `key` in the background
    /// (as [`Store::get_ranges`]), so the caller can work meanwhile; the
    /// bytes are collected with [`RangesAhead::wait`].
    pub fn get_ranges_ahead(&self, key: &str, ranges: Vec<Range<u64>>) -> RangesAhead {
        let inner = self.inner.clone();
        let path = Path::from(key);
        let handle =
            crate::rt::runtime().spawn(async move { fetch_pieces(&*inner, &path, &ranges).await });
        RangesAhead {
            store: self.clone(),
            key: key.to_string(),
            handle: Some(handle),
        }
    }

    /// A blocking [`std::io::Read`] over bytes `range` of the object at
    /// `key`, fetched in large ranged requests with one request ahead.
    pub fn reader(&self, key: &str, range: Range<u64>) -> ObjectReader {
        ObjectReader::new(self.clone(), key.to_string(), range)
    }

    pub(crate) fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// The size of the object at `key`.
    pub fn size(&self, key: &str) -> Result<u64, StoreError> {
        let path = Path::from(key);
        block_on(self.inner.head(&path))
            .map(|meta| meta.size)
            .map_err(|e| self.backend("head", key, e))
    }

    /// Every object below `prefix` (a folder-like key prefix), sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let path = Path::from(prefix);
        let prefix_arg = (!prefix.is_empty()).then_some(&path);
        let mut found: Vec<ObjectInfo> =
            block_on(self.inner.list(prefix_arg).try_collect::<Vec<_>>())
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
        match block_on(self.inner.delete(&Path::from(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend("delete", key, e)),
        }
    }

    /// Deletes every object below `prefix`; missing objects are not an
    /// error. Object stores get bulk deletes (S3: a thousand keys per
    /// request); a file store loses the whole directory, including empty
    /// subdirectories and staging files of writers that died mid-commit,
    /// which a listing does not show.
    pub fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let objects = self.list(prefix)?;
        let locations = futures::stream::iter(
            objects
                .into_iter()
                .map(|object| Ok(Path::from(object.key.as_str()))),
        )
        .boxed();
        block_on(async {
            let mut deleted = self.inner.delete_stream(locations);
            while let Some(outcome) = deleted.next().await {
                match outcome {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.backend("delete", prefix, e)),
                }
            }
            Ok(())
        })?;
        if let StoreKind::File(root) = &self.url.kind {
            let relative = std::path::Path::new(prefix);
            let inside = relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !prefix.is_empty() && inside {
                match std::fs::remove_dir_all(root.join(relative)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {}
                    Err(e) => {
                        return Err(StoreError::Io {
                            op: "delete",
                            url: self.object_url(prefix),
                            error: e,
                        })
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn map_error(
        &self,
        op: &'static str,
        key: &str,
        e: object_store::Error,
    ) -> StoreError {
        self.backend(op, key, e)
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
    fn neighbouring_ranges_are_fetched_together() {
        let (merged, placed) = coalesce(&[0..10, 10..25, 25..25, 30..40, 40..41, 5..8]);
        assert_eq!(merged, [0..25, 25..25, 30..41, 5..8]);
        assert_eq!(placed, [(0, 0), (0, 10), (1, 0), (2, 0), (2, 10), (3, 0)]);
        assert_eq!(coalesce(&[]), (vec![], vec![]));
    }

    #[test]
    fn get_ranges_returns_each_range_whatever_its_neighbours() {
        let (_dir, stores) = stores();
        let len = 3 * PIECE + 17;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let p = PIECE;
        let ranges = [
            0..5,
            5..p + 3, // across a piece boundary, next to the one before
            p + 3..2 * p + 9,
            2 * p + 9..2 * p + 9,
            2 * p + 20..len,
            7..12, // inside an earlier range, out of order
        ];
        for store in stores {
            store.put("ranges", Bytes::from(data.clone())).unwrap();
            let got = store.get_ranges("ranges", &ranges).unwrap();
            assert_eq!(got.len(), ranges.len());
            for (bytes, range) in got.iter().zip(&ranges) {
                assert!(bytes[..] == data[range.start as usize..range.end as usize]);
            }
        }
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
    fn files_commit_first_wins_small_or_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = StoreOptions::new();
        options.set("multipart_threshold", "5MiB");
        let stores = [
            Store::open_with(dir.path().join("root").to_str().unwrap(), &options).unwrap(),
            Store::open_with(&format!("memory://files-{}", std::process::id()), &options).unwrap(),
        ];
        let big: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
        let (small_file, big_file) = (dir.path().join("small"), dir.path().join("big"));
        std::fs::write(&small_file, b"tiny").unwrap();
        std::fs::write(&big_file, &big).unwrap();
        for store in stores {
            for (key, file, bytes) in [
                ("out/part-00000", &small_file, &b"tiny"[..]),
                ("out/part-00001", &big_file, &big[..]),
            ] {
                assert!(store.put_file_if_absent(key, file).unwrap(), "{store:?}");
                assert!(!store.put_file_if_absent(key, &small_file).unwrap());
                assert!(store.get(key).unwrap() == bytes, "{store:?} {key}");
            }
            // No staging object is left behind.
            let keys: Vec<String> = store
                .list("out")
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect();
            assert_eq!(keys, ["out/part-00000", "out/part-00001"], "{store:?}");
            let missing = store
                .put_file_if_absent("out/x", &dir.path().join("nope"))
                .unwrap_err();
            assert!(missing.to_string().contains("nope"), "{missing}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("root/out"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn reads_and_writes_are_counted() {
        let (_dir, stores) = stores();
        for store in stores {
            // Other tests run alongside: the totals only grow, by at least ours.
            let before = crate::io_totals();
            store.put("c/a", Bytes::from_static(b"12345")).unwrap();
            assert!(store
                .put_if_absent("c/b", Bytes::from_static(b"678"))
                .unwrap());
            store.get("c/a").unwrap();
            store.get_range("c/b", 0..2).unwrap();
            let after = crate::io_totals();
            assert!(after.written - before.written >= 8);
            assert!(after.read - before.read >= 7);
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
    fn deleting_a_prefix_of_a_file_store_leaves_no_directories_or_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        store
            .put("jobs/j1/s0/p0", Bytes::from_static(b"a"))
            .unwrap();
        store
            .put("jobs/j10/s0/p0", Bytes::from_static(b"b"))
            .unwrap();
        // What a writer that died mid-commit leaves: listings skip it.
        std::fs::write(dir.path().join("jobs/j1/s0/p1#3"), b"partial").unwrap();
        store.delete_prefix("jobs/j1").unwrap();
        assert!(!dir.path().join("jobs/j1").exists());
        assert_eq!(&store.get("jobs/j10/s0/p0").unwrap()[..], b"b");
        store.delete_prefix("jobs/never-there").unwrap();
        store.delete_prefix("../escape").unwrap();
        assert!(dir.path().exists());
    }

    #[test]
    fn open_container_splits_off_the_prefix() {
        let name = format!("memory://container-{}", std::process::id());
        Store::open(&format!("{name}/a/b"))
            .unwrap()
            .put("c", Bytes::from_static(b"1"))
            .unwrap();
        let (store, prefix) = Store::open_container(&format!("{name}/a/b")).unwrap();
        assert_eq!(prefix, "a/b");
        assert_eq!(store.list(&prefix).unwrap()[0].key, "a/b/c");
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
