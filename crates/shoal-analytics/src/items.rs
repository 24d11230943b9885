//! Top items merged in parallel: the **items** stage between "users" and
//! "merge".
//!
//! Every user partition sees most items (a million at 100M events), so
//! summing `(item, events, users)` over every partial in the one merge
//! task was most of the job's time. Instead each "users" task shuffles
//! its item counts by item name to [`item_partitions`] buckets (the rest
//! of its partial rides in bucket 0); an "items" task sums the counts of
//! its items — each item's counts all meet there — and keeps only its
//! local top N, which contains its share of the global top N. The merge
//! then sums the rest of the partials and picks the top N of those few
//! candidates. Shuffled, the counts also count against the memory budget
//! and spill beyond it, where result blobs stayed in memory.
//!
//! A bucket is a list of frames: a tag byte, a little-endian `u64`
//! length, then a postcard body — [`REST`] (a [`Partial`] without items)
//! or [`ITEMS`] (a list of `(item, events, users)`).

use serde::{Deserialize, Serialize};
use shoal_core::route::partition_of;
use shoal_core::Bytes;

use crate::error::DecodeError;
use crate::hash::FixedMap;
use crate::partial::{top_items, Partial};

/// Tag of a frame holding the rest of a partial.
const REST: u8 = 0;
/// Tag of a frame holding item counts.
const ITEMS: u8 = 1;

/// Most "items" tasks.
const MAX_ITEM_PARTITIONS: u32 = 32;

/// "items" tasks for `partitions` user partitions: as many, up to
/// [`MAX_ITEM_PARTITIONS`] (each must hold a 1/K share of all counts).
pub fn item_partitions(partitions: u32) -> u32 {
    partitions.clamp(1, MAX_ITEM_PARTITIONS)
}

/// A user partition's partial as the "users" stage's buckets: its items
/// by item name to `buckets.len()` buckets, the rest in bucket 0.
pub fn write_buckets(mut partial: Partial, buckets: &mut [Vec<u8>]) {
    let k = buckets.len() as u32;
    let mut groups: Vec<Vec<(String, u64, u64)>> = vec![Vec::new(); k as usize];
    for item in std::mem::take(&mut partial.items) {
        groups[partition_of(item.0.as_bytes(), k) as usize].push(item);
    }
    push_frame(&mut buckets[0], REST, &partial.to_bytes());
    for (bucket, group) in buckets.iter_mut().zip(groups) {
        if !group.is_empty() {
            // Strings and integers only: serialization cannot fail.
            push_frame(
                bucket,
                ITEMS,
                &postcard::to_allocvec(&group).unwrap_or_default(),
            );
        }
    }
}

fn push_frame(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
}

/// An "items" task's result: the rests of partials it was given (only
/// task 0 has any), in map order, and its local top N items.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ItemsOutput {
    /// Encoded [`Partial`]s without items.
    pub rests: Vec<Vec<u8>>,
    /// `(item, events, users)` of this task's top items.
    pub top: Vec<(String, u64, u64)>,
}

impl ItemsOutput {
    /// Compact bytes for the merge stage.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(postcard::to_allocvec(self).unwrap_or_default())
    }

    /// Decodes the result of "items" task `index`.
    pub fn from_bytes(bytes: &[u8], index: usize) -> Result<ItemsOutput, DecodeError> {
        postcard::from_bytes(bytes).map_err(|source| DecodeError::Partial { index, source })
    }
}

/// Sums the item counts of `blocks` (one per "users" task, in map order)
/// and keeps the `top` items; passes the rests of partials on.
pub fn merge_items(blocks: &[Bytes], top: usize) -> Result<ItemsOutput, DecodeError> {
    let mut items: FixedMap<String, (u64, u64)> = FixedMap::default();
    let mut out = ItemsOutput::default();
    for (index, block) in blocks.iter().enumerate() {
        let mut rest: &[u8] = block;
        while !rest.is_empty() {
            let (tag, body, tail) = split_frame(rest, index, block.len() - rest.len())?;
            rest = tail;
            if tag == REST {
                out.rests.push(body.to_vec());
                continue;
            }
            let group: Vec<(String, u64, u64)> = postcard::from_bytes(body)
                .map_err(|source| DecodeError::Partial { index, source })?;
            for (item, events, users) in group {
                let e = items.entry(item).or_default();
                e.0 += events;
                e.1 += users;
            }
        }
    }
    out.top = top_items(items, top)
        .into_iter()
        .map(|t| (t.item, t.events, t.users))
        .collect();
    Ok(out)
}

/// The tag, body and rest of the frame at the front of `bytes`, which
/// starts at byte `offset` of shuffle block `block`.
fn split_frame(
    bytes: &[u8],
    block: usize,
    offset: usize,
) -> Result<(u8, &[u8], &[u8]), DecodeError> {
    let bad = |what| DecodeError::Record {
        block,
        offset,
        what,
    };
    let (&tag, rest) = bytes.split_first().ok_or(bad("empty frame"))?;
    if tag > ITEMS {
        return Err(bad("unknown frame tag"));
    }
    let (len, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(bad("frame header cut short"))?;
    let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
    if rest.len() < len {
        return Err(bad("frame body cut short"));
    }
    let (body, tail) = rest.split_at(len);
    Ok((tag, body, tail))
}

/// The partials the merge sums: the rests of every user partition (in
/// map order) and, as the items of one more partial, every task's top
/// candidates (each item's counts are complete in its task's list).
pub fn partials_of(outputs: Vec<ItemsOutput>) -> Result<Vec<Partial>, DecodeError> {
    let mut partials = Vec::new();
    let mut candidates = Partial::default();
    for output in outputs {
        for rest in output.rests {
            let index = partials.len();
            partials.push(Partial::from_bytes(&rest, index)?);
        }
        candidates.items.extend(output.top);
    }
    partials.push(candidates);
    Ok(partials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(events: u64, items: &[(&str, u64, u64)]) -> Partial {
        Partial {
            events,
            items: items
                .iter()
                .map(|&(name, e, u)| (name.to_string(), e, u))
                .collect(),
            ..Partial::default()
        }
    }

    #[test]
    fn items_split_by_name_sum_to_the_same_top() {
        let partials = [
            partial(3, &[("a", 5, 1), ("b", 2, 2), ("c", 9, 1)]),
            partial(4, &[("b", 8, 1), ("d", 1, 1), ("a", 1, 1)]),
        ];
        let k = 3;
        let mut buckets: Vec<Vec<Vec<u8>>> = Vec::new();
        for p in &partials {
            let mut b = vec![Vec::new(); k];
            write_buckets(p.clone(), &mut b);
            buckets.push(b);
        }
        let outputs: Vec<ItemsOutput> = (0..k)
            .map(|task| {
                let blocks: Vec<Bytes> = buckets
                    .iter()
                    .map(|b| Bytes::from(b[task].clone()))
                    .collect();
                merge_items(&blocks, 2).unwrap()
            })
            .collect();
        assert_eq!(outputs[0].rests.len(), 2);
        let merged = partials_of(outputs).unwrap();
        assert_eq!(merged.iter().map(|p| p.events).sum::<u64>(), 7);
        let top = top_items(
            merged
                .into_iter()
                .flat_map(|p| p.items)
                .map(|(i, e, u)| (i, (e, u)))
                .collect(),
            2,
        );
        let names: Vec<(String, u64, u64)> = top
            .into_iter()
            .map(|t| (t.item, t.events, t.users))
            .collect();
        assert_eq!(names, [("b".to_string(), 10, 3), ("c".to_string(), 9, 1)]);
    }

    #[test]
    fn a_truncated_frame_is_an_error_naming_the_partial() {
        let mut b = vec![Vec::new(); 1];
        write_buckets(partial(1, &[("a", 1, 1)]), &mut b);
        let cut = Bytes::from(b[0][..b[0].len() - 1].to_vec());
        let err = merge_items(&[Bytes::new(), cut], 5).unwrap_err();
        assert!(err.to_string().contains("block 1"), "{err}");
    }
}
