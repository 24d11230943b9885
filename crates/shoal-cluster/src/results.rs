//! Small task results travel inline in the worker's report.
//!
//! A stage of many tiny tasks (no-ops, counts, samples) would otherwise pay
//! one store object per task, which dominates the cost of small tasks on a
//! cluster. So a result of at most [`INLINE_LIMIT`] bytes rides in the
//! task's `done` report, and only larger ones are committed to the store.
//! First-commit-wins still holds: the driver counts the first `done`
//! report of a partition and ignores later ones, exactly as it does for
//! stored outputs, and attempts of a deterministic task agree anyway.
//!
//! When a later stage reads a results stage, the driver writes one
//! **results index** for it: a partition file whose bucket `p` is either
//! `0x00` followed by partition p's inline bytes, or `0x01` alone, meaning
//! "committed in the store under its own key". Readers fetch the index once
//! and the stored results they point to.
//!
//! Inline results live in the driver's memory once read from the event
//! stream, so a Redis restart loses only reports the driver had not read
//! yet, and those partitions are resubmitted like any unfinished task.

use shoal_core::Bytes;
use shoal_store::{partition, Store, StoreError};

use crate::keys;

/// Largest result carried inline in a report (bytes).
pub(crate) const INLINE_LIMIT: usize = 64 * 1024;

const INLINE_TAG: u8 = 0;
const STORED_TAG: u8 = 1;

/// Where one partition's committed result is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResultSlot {
    /// Carried in the report; here are its bytes.
    Inline(Bytes),
    /// Committed in the store under [`keys::result_object`].
    Stored,
}

/// Writes the results index of `stage` so later stages' tasks can read it.
pub(crate) fn write_index(
    store: &Store,
    job_id: &str,
    stage: u32,
    slots: &[ResultSlot],
) -> Result<(), StoreError> {
    let buckets = slots
        .iter()
        .map(|slot| match slot {
            ResultSlot::Inline(bytes) => {
                let mut tagged = Vec::with_capacity(bytes.len() + 1);
                tagged.push(INLINE_TAG);
                tagged.extend_from_slice(bytes);
                Bytes::from(tagged)
            }
            ResultSlot::Stored => Bytes::from_static(&[STORED_TAG]),
        })
        .collect();
    let parts = partition::encode(buckets);
    store.put_if_absent_parts(&keys::results_index(job_id, stage), parts)?;
    Ok(())
}

/// Every result of `stage` (which has `partitions` partitions), from its
/// index and the store.
pub(crate) fn read_stage(
    store: &Store,
    job_id: &str,
    stage: u32,
    partitions: u32,
) -> Result<Vec<Bytes>, StoreError> {
    let key = keys::results_index(job_id, stage);
    let url = store.object_url(&key);
    let index = store.get(&key)?;
    let slots = partition::split(&url, &index, partitions)?
        .into_iter()
        .enumerate()
        .map(|(p, bucket)| match bucket.first() {
            Some(&INLINE_TAG) => Ok(ResultSlot::Inline(bucket.slice(1..))),
            Some(&STORED_TAG) if bucket.len() == 1 => Ok(ResultSlot::Stored),
            _ => Err(StoreError::Corrupt {
                url: url.clone(),
                reason: format!("bad results-index entry for partition {p}"),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    resolve(store, job_id, stage, slots)
}

/// The bytes of every slot: inline ones as they are, stored ones fetched.
pub(crate) fn resolve(
    store: &Store,
    job_id: &str,
    stage: u32,
    slots: Vec<ResultSlot>,
) -> Result<Vec<Bytes>, StoreError> {
    slots
        .into_iter()
        .enumerate()
        .map(|(p, slot)| match slot {
            ResultSlot::Inline(bytes) => Ok(bytes),
            ResultSlot::Stored => store.get(&keys::result_object(job_id, stage, p as u32)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_inline_and_stored_results() {
        let store = Store::open("memory://results-index-test").unwrap();
        let big = Bytes::from(vec![7u8; 100]);
        store
            .put(&keys::result_object("j1", 2, 1), big.clone())
            .unwrap();
        let slots = vec![
            ResultSlot::Inline(Bytes::from_static(b"zero")),
            ResultSlot::Stored,
            ResultSlot::Inline(Bytes::new()),
            ResultSlot::Inline(Bytes::from_static(&[STORED_TAG])),
        ];
        write_index(&store, "j1", 2, &slots).unwrap();
        let got = read_stage(&store, "j1", 2, 4).unwrap();
        assert_eq!(
            got,
            vec![
                Bytes::from_static(b"zero"),
                big,
                Bytes::new(),
                Bytes::from_static(&[STORED_TAG]),
            ]
        );
    }

    #[test]
    fn a_stored_slot_without_its_object_is_an_error() {
        let store = Store::open("memory://results-index-missing").unwrap();
        write_index(&store, "j2", 0, &[ResultSlot::Stored]).unwrap();
        assert!(matches!(
            read_stage(&store, "j2", 0, 1),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn a_wrong_partition_count_is_corrupt() {
        let store = Store::open("memory://results-index-count").unwrap();
        write_index(&store, "j3", 0, &[ResultSlot::Stored, ResultSlot::Stored]).unwrap();
        assert!(matches!(
            read_stage(&store, "j3", 0, 3),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
