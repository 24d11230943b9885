//! Saved arrays: an open on-store layout, `save` / `load`, `cache` / `persist`.
//!
//! An array saved at a store URL (`file:///…`, a path, `memory://name`) is:
//!
//! ```text
//! <url>/part-00000.bin   one file per partition: a frame of the codec
//! <url>/part-00001.bin   (u64 little-endian element count, then the
//! ...                     elements: fixed-width little-endian for plain
//! <url>/manifest.json     numbers, postcard otherwise; see `codec`)
//! ```
//!
//! `manifest.json` records the format name and version, the element type
//! (its declared [`TypeTag`]), the codec, the partition lengths and the part
//! file names. Version 1 manifests recorded `std::any::type_name`, whose
//! spelling Rust does not promise to keep; they still load when this build
//! spells the type the same way. Tasks write the part files; the driver writes the manifest
//! last, once every part is committed, so a manifest always describes a
//! complete array. `load` reads only the manifest; each partition's file is
//! read by the task that needs it, so `get(i)` on a loaded array reads one
//! part file.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shoal_core::{Bytes, TaskError};
use shoal_store::Store;

use crate::array::{encode_blob, Compute};
use crate::codec::{codec_name, decode, Element};
use crate::error::corrupt_task;
use crate::part::{Flow, Part};
use crate::{Action, ArrayError, DistArray, Session, TypeTag};

/// The `format` field of every manifest.
pub const FORMAT: &str = "shoal-array";
/// The layout version this crate writes: 2 records a declared type tag.
pub const VERSION: u32 = 2;
/// The first layout version, whose `element_type` is `std::any::type_name`;
/// still read.
const VERSION_TYPE_NAME: u32 = 1;
/// The manifest's key below the array's URL.
pub const MANIFEST: &str = "manifest.json";

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version: [`VERSION`] (1 when written before type tags).
    pub version: u32,
    /// The element type's [`TypeTag`] (version 1: `std::any::type_name`).
    pub element_type: String,
    /// `le-<type>` (fixed-width little endian) or `postcard`.
    pub codec: String,
    /// Elements in each partition.
    pub lengths: Vec<u64>,
    /// Part file keys below the array's URL, by partition.
    pub files: Vec<String>,
}

/// The key of partition `p`'s file.
pub fn part_file(partition: u32) -> String {
    format!("part-{partition:05}.bin")
}

impl<T: Element + TypeTag> DistArray<T> {
    /// The action behind [`DistArray::save`], for registered jobs.
    pub fn save_action(&self, url: &str) -> Action<Manifest> {
        self.save_summarised_action(url, |_| ())
            .map(|(manifest, _)| manifest)
    }

    /// Saves the array at `url` like [`DistArray::save_action`] and, in the
    /// same pass, computes `summarise` of each saved partition: the answer
    /// is the manifest and the summaries, by partition. For jobs that save
    /// a result and report on it (count, checksum, order) without reading
    /// it back.
    pub fn save_summarised_action<S: Element>(
        &self,
        url: &str,
        summarise: impl Fn(&[T]) -> S + Send + Sync + 'static,
    ) -> Action<(Manifest, Vec<S>)> {
        let task_url = url.to_string();
        let url = url.to_string();
        self.action(
            "save",
            move |ctx, compute| {
                let items = compute(ctx)?.part()?;
                let store = Store::open(&task_url)?;
                store.put(&part_file(ctx.partition()), encode_blob(items.as_slice())?)?;
                let summary = summarise(items.as_slice());
                encode_blob(&[(items.len() as u64, summary)])
            },
            move |results| {
                let mut lengths = Vec::with_capacity(results.len());
                let mut summaries = Vec::with_capacity(results.len());
                for (partition, blob) in results.iter().enumerate() {
                    let what = || format!("save result of partition {partition}");
                    let decoded: Vec<(u64, S)> =
                        decode(blob).map_err(|e| ArrayError::corrupt(what(), e))?;
                    let [(length, summary)]: [(u64, S); 1] = decoded
                        .try_into()
                        .map_err(|_| ArrayError::corrupt(what(), "not one entry"))?;
                    lengths.push(length);
                    summaries.push(summary);
                }
                let manifest = Manifest {
                    format: FORMAT.to_string(),
                    version: VERSION,
                    element_type: T::type_tag(),
                    codec: codec_name::<T>().to_string(),
                    files: (0..lengths.len() as u32).map(part_file).collect(),
                    lengths,
                };
                let json = serde_json::to_vec_pretty(&manifest)
                    .map_err(|e| ArrayError::corrupt("manifest", e.to_string()))?;
                Store::open(&url)?.put(MANIFEST, Bytes::from(json))?;
                Ok((manifest, summaries))
            },
        )
    }

    /// Writes the array at `url` (one file per partition plus the
    /// manifest), replacing an array saved there before.
    pub fn save(&self, url: &str) -> Result<Manifest, ArrayError> {
        self.session.execute(self.save_action(url))
    }

    /// Saves the array at `url` and returns it read back from there: later
    /// actions read the saved partitions instead of recomputing.
    pub fn persist(&self, url: &str) -> Result<DistArray<T>, ArrayError> {
        self.save(url)?;
        self.session.load(url)
    }

    /// Materialises the array once in the session's scratch store (memory
    /// when embedded) and returns the materialised copy.
    pub fn cache(&self) -> Result<DistArray<T>, ArrayError> {
        self.persist(&self.session.scratch_url())
    }
}

impl Session {
    /// Reads the manifest of the array saved at `url`.
    pub fn manifest(&self, url: &str) -> Result<Manifest, ArrayError> {
        let bad = |reason: String| ArrayError::Manifest {
            url: format!("{}/{MANIFEST}", url.trim_end_matches('/')),
            reason,
        };
        let bytes = Store::open(url)?.get(MANIFEST)?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a manifest: {e}")))?;
        let known = [VERSION_TYPE_NAME, VERSION];
        if manifest.format != FORMAT || !known.contains(&manifest.version) {
            return Err(bad(format!(
                "format '{}' version {}, expected '{FORMAT}' version {VERSION_TYPE_NAME} or {VERSION}",
                manifest.format, manifest.version
            )));
        }
        if manifest.files.len() != manifest.lengths.len() || manifest.files.is_empty() {
            return Err(bad(format!(
                "{} files for {} partition lengths",
                manifest.files.len(),
                manifest.lengths.len()
            )));
        }
        Ok(manifest)
    }

    /// The array saved at `url`, read lazily partition by partition.
    /// Fails when it holds another element type than `T` (by [`TypeTag`]).
    pub fn load<T: Element + TypeTag>(&self, url: &str) -> Result<DistArray<T>, ArrayError> {
        let manifest = self.manifest(url)?;
        let expected = match manifest.version {
            VERSION_TYPE_NAME => std::any::type_name::<T>().to_string(),
            _ => T::type_tag(),
        };
        if manifest.element_type != expected || manifest.codec != codec_name::<T>() {
            return Err(ArrayError::TypeMismatch {
                url: url.to_string(),
                expected: format!("{expected} ({})", codec_name::<T>()),
                found: format!("{} ({})", manifest.element_type, manifest.codec),
            });
        }
        let parts = manifest.lengths.len() as u32;
        let lengths = manifest.lengths.clone();
        let (url, manifest) = (url.to_string(), Arc::new(manifest));
        let compute: Compute<T> = Arc::new(move |ctx| {
            read_part(&url, &manifest, ctx.partition()).map(|v| Flow::Ready(Part::Owned(v)))
        });
        Ok(DistArray::source(
            self.clone(),
            parts,
            Some(lengths),
            false,
            compute,
        ))
    }
}

/// Reads and checks one part file of a saved array.
fn read_part<T: Element>(
    url: &str,
    manifest: &Manifest,
    partition: u32,
) -> Result<Vec<T>, TaskError> {
    let file = &manifest.files[partition as usize];
    let bytes = Store::open(url)?.get(file)?;
    let what = format!("{}/{file}", url.trim_end_matches('/'));
    let items: Vec<T> = decode(&bytes).map_err(|e| corrupt_task(&what, e))?;
    let expected = manifest.lengths[partition as usize];
    if items.len() as u64 != expected {
        return Err(corrupt_task(
            &what,
            format!("{} elements, the manifest says {expected}", items.len()),
        ));
    }
    Ok(items)
}
