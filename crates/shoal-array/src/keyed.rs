//! Keyed operations over hash shuffles: `reduce_by_key`, `group_by_key`,
//! `distinct`, inner and left `join`.
//!
//! Rows go to partition `stable_hash(postcard(key)) % P` — the same on
//! every machine. Map tasks combine before shuffling (`reduce_by_key`
//! sums per key, `group_by_key` groups, `distinct` dedups), so the shuffle
//! carries at most one row per key per map task. Reduce tasks read map
//! outputs in map order and local maps use fixed seeds, so for a given
//! input and partitioning results are always the same, in the same order,
//! never depending on thread timing or the memory budget: values of a key
//! are combined in input order (which matters for floating point), groups
//! list their values in input order, and keys come in order of first
//! appearance within a partition. Aggregation within memory and spilling
//! beyond it is `hashagg.rs`.

use std::hash::Hash;
use std::sync::Arc;

use shoal_core::route::{bucket_of, stable_hash};
use shoal_core::{Plan, Stage};

use crate::array::{read_chunk, Lower, Lowered};
use crate::codec::Element;
use crate::hashagg::{aggregate, Concat, Keep, Mode, Reduce, Spares};
use crate::join::{hash_join, Emit};
use crate::part::Flow;
use crate::runs::{push_frame, stream_frames};
use crate::DistArray;

/// The routing hash of a key: FNV-1a of its postcard bytes.
pub(crate) fn key_hash<K: Element>(key: &K) -> u64 {
    let mut stack = [0u8; 64];
    match postcard::to_slice(key, &mut stack) {
        Ok(bytes) => stable_hash(bytes),
        Err(_) => stable_hash(&postcard::to_stdvec(key).unwrap_or_default()),
    }
}

impl<T: Element> DistArray<T> {
    /// Routes every element to partition `hash(element) % partitions`,
    /// keeping map order within each output partition.
    pub(crate) fn hash_partition(
        &self,
        partitions: u32,
        hash: impl Fn(&T) -> u64 + Send + Sync + 'static,
    ) -> DistArray<T> {
        let parts = partitions.max(1);
        let hash = Arc::new(hash);
        let upstream = self.lower.clone();
        let lower: Lower<T> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            let (compute, hash) = (up.compute.clone(), hash.clone());
            let stage = Stage::new("hash-shuffle", up.partitions, move |ctx| {
                let mut routed: Vec<Vec<T>> = (0..parts).map(|_| Vec::new()).collect();
                for batch in compute(ctx)?.batches() {
                    for item in batch? {
                        routed[bucket_of(hash(&item), parts) as usize].push(item);
                    }
                    for (bucket, items) in ctx.buckets().iter_mut().zip(&mut routed) {
                        if !items.is_empty() {
                            push_frame(items, bucket)?;
                            items.clear();
                        }
                    }
                    ctx.spill_output_if_needed()?;
                }
                Ok(())
            })
            .shuffle_output(parts);
            let map = plan.add_stage(up.declare(stage));
            Lowered {
                partitions: parts,
                reads: vec![map],
                in_memory: false,
                compute: Arc::new(move |ctx| {
                    let chunk = read_chunk(ctx);
                    Ok(Flow::Stream(stream_frames(ctx.shuffle_input(map)?, chunk)))
                }),
            }
        });
        DistArray::from_lower(self.session.clone(), parts, None, lower)
    }
}

impl<T: Element + Hash + Eq> DistArray<T> {
    /// Each distinct element once (the first occurrence survives), in
    /// `stable_hash` partitions.
    pub fn distinct(&self) -> DistArray<T> {
        let spares = Spares::new();
        self.map(|x| (x, ()))
            .narrow_in_task(move |ctx, items| {
                aggregate(ctx, items, Arc::new(Keep), Mode::Partial(spares.clone()))
            })
            .hash_partition(self.partitions, |(x, _)| key_hash(x))
            .narrow_in_task(|ctx, items| aggregate(ctx, items, Arc::new(Keep), Mode::Final))
            .map(|(x, ())| x)
    }
}

impl<K: Element + Hash + Eq, V: Element> DistArray<(K, V)> {
    /// One `(key, value)` per distinct key, the values of a key combined
    /// with the associative `f` in input order (map-side combining first).
    pub fn reduce_by_key(
        &self,
        f: impl Fn(&V, &V) -> V + Send + Sync + 'static,
    ) -> DistArray<(K, V)> {
        let combine = Arc::new(Reduce(f));
        let (partial, spares) = (combine.clone(), Spares::new());
        self.narrow_in_task(move |ctx, items| {
            aggregate(ctx, items, partial.clone(), Mode::Partial(spares.clone()))
        })
        .hash_partition(self.partitions, |(k, _)| key_hash(k))
        .narrow_in_task(move |ctx, items| aggregate(ctx, items, combine.clone(), Mode::Final))
    }

    /// One `(key, values)` per distinct key, values in input order.
    pub fn group_by_key(&self) -> DistArray<(K, Vec<V>)> {
        let spares = Spares::new();
        self.map(|(k, v)| (k, vec![v]))
            .narrow_in_task(move |ctx, items| {
                aggregate(ctx, items, Arc::new(Concat), Mode::Partial(spares.clone()))
            })
            .hash_partition(self.partitions, |(k, _)| key_hash(k))
            .narrow_in_task(|ctx, items| aggregate(ctx, items, Arc::new(Concat), Mode::Final))
    }

    /// Inner join on the key: `(k, (v, w))` for every pair of rows with
    /// equal keys; left rows in input order, their matches in right input
    /// order. Partitioned like `self`.
    pub fn join<W: Element>(&self, other: &DistArray<(K, W)>) -> DistArray<(K, (V, W))> {
        self.join_with(other, |key, value, matches, out| {
            for w in matches.into_iter().flatten() {
                out.push((key.clone(), (value.clone(), w.clone())));
            }
        })
    }

    /// Left outer join: like [`DistArray::join`], plus `(k, (v, None))` for
    /// left rows without a match.
    pub fn left_join<W: Element>(
        &self,
        other: &DistArray<(K, W)>,
    ) -> DistArray<(K, (V, Option<W>))> {
        self.join_with(other, |key, value, matches, out| match matches {
            Some(ws) => {
                for w in ws {
                    out.push((key.clone(), (value.clone(), Some(w.clone()))));
                }
            }
            None => out.push((key.clone(), (value.clone(), None))),
        })
    }

    fn join_with<W: Element, R: Element>(
        &self,
        other: &DistArray<(K, W)>,
        emit: impl Fn(&K, &V, Option<&Vec<W>>, &mut Vec<R>) + Send + Sync + 'static,
    ) -> DistArray<R> {
        let parts = self.partitions;
        let left = self.hash_partition(parts, |(k, _)| key_hash(k)).lower;
        let right = other.hash_partition(parts, |(k, _)| key_hash(k)).lower;
        let emit: Emit<K, V, W, R> = Arc::new(emit);
        let lower: Lower<R> = Arc::new(move |plan: &mut Plan| {
            let (l, r) = (left(plan), right(plan));
            let (cl, cr, emit) = (l.compute.clone(), r.compute.clone(), emit.clone());
            let mut reads = l.reads;
            reads.extend(r.reads);
            Lowered {
                partitions: parts,
                reads,
                in_memory: false,
                compute: Arc::new(move |ctx| hash_join(ctx, cl(ctx)?, cr(ctx)?, emit.clone())),
            }
        });
        DistArray::from_lower(self.session.clone(), parts, None, lower)
    }
}
