//! Sorting: globally ordered, evenly balanced, stable, and bigger than
//! memory when it has to be.
//!
//! Two plans, one result. The output partition of an element is decided
//! by boundaries drawn from the same seeded samples either way, and ties
//! keep input order, so both give the same partitions holding the same
//! elements in the same order:
//!
//! - the input partitions are **computed** (files, shuffles,
//!   transformations): each is computed once, sorted where it is and
//!   written as one sorted run; readers take their key range out of every
//!   run ([`ranges`]);
//! - the input partitions are **already in memory** (vector sources):
//!   reading one again costs nothing, so it is read once to sample and
//!   once to route each element to its key range, and sorted once, in the
//!   reader ([`route`]) — for plain integers that is one radix sort of
//!   every element instead of two.
//!
//! Both sort through shoal-core's [`ExternalSorter`]: in memory while the
//! task's share of the budget allows, in runs on disk beyond it.

mod ranges;
mod route;
mod sample;

use std::cmp::Ordering;
use std::sync::Arc;

use shoal_core::extsort::{ExternalSorter, RunCodec, SortOptions};
use shoal_core::{Plan, Stage, StageRef, TaskContext};

use crate::array::{Lower, Lowered};
use crate::codec::{is_plain_integer, Element};
use crate::part::BATCH;
use crate::radix;
use crate::runs::ArrayCodec;
use crate::DistArray;

/// An external sorter of `T` in the task's memory, stable — or, when
/// `natural` says the comparator is `Ord::cmp` and `T` is a plain integer
/// (equal values are indistinguishable), a radix sort.
fn sorter<T: Element, C>(
    ctx: &TaskContext<'_>,
    cmp: Arc<C>,
    natural: bool,
) -> ExternalSorter<T, impl RunCodec<Item = T> + Clone, impl Fn(&T, &T) -> Ordering + Send + Sync>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let radix = natural && is_plain_integer::<T>();
    let options = SortOptions {
        stable: !radix,
        batch: BATCH,
    };
    let sorter = ExternalSorter::new(
        ArrayCodec::<T>::new(),
        move |a: &T, b: &T| cmp(a, b),
        ctx.memory(),
        ctx.spill_space(),
        options,
    );
    if radix {
        return sorter.with_in_memory_sort(|items| {
            radix::sort_plain(items);
        });
    }
    sorter
}

impl<T: Element> DistArray<T> {
    /// Sorted by `key`, stably: elements with equal keys keep their order.
    pub fn sort_by_key<K: Ord>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> DistArray<T> {
        self.sample_sort(move |a: &T, b: &T| key(a).cmp(&key(b)), false)
    }

    /// Sorted by the comparator `cmp`, stably.
    pub fn sort_by(
        &self,
        cmp: impl Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    ) -> DistArray<T> {
        self.sample_sort(cmp, false)
    }

    /// Sorts by `cmp`; `natural` says `cmp` is `Ord::cmp`, so plain
    /// integers may be radix sorted.
    fn sample_sort<C>(&self, cmp: C, natural: bool) -> DistArray<T>
    where
        C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    {
        let cmp = Arc::new(cmp);
        let upstream = self.lower.clone();
        let parts = self.partitions;
        let lower: Lower<T> = Arc::new(move |plan: &mut Plan| {
            let up = upstream(plan);
            if up.in_memory {
                sort_in_memory_input(plan, &up, parts, cmp.clone(), natural)
            } else {
                sort_computed_input(plan, &up, parts, cmp.clone(), natural)
            }
        });
        DistArray::from_lower(self.session.clone(), parts, None, lower)
    }
}

impl<T: Element + Ord> DistArray<T> {
    /// Sorted ascending, stably (plain integers, whose equal values are
    /// indistinguishable, are radix sorted).
    pub fn sort(&self) -> DistArray<T> {
        self.sample_sort(T::cmp, true)
    }
}

/// The sort of [`route`]: sample stage, route stage, sorting reader.
fn sort_in_memory_input<T: Element, C>(
    plan: &mut Plan,
    up: &Lowered<T>,
    parts: u32,
    cmp: Arc<C>,
    natural: bool,
) -> Lowered<T>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let wanted = sample::wanted(up.partitions, parts);
    let compute = up.compute.clone();
    let sample = plan.add_stage(
        up.declare(Stage::new("sort-sample", up.partitions, move |ctx| {
            let blob = route::sample_blob(compute(ctx)?, ctx.partition(), wanted)?;
            ctx.set_result(blob);
            Ok(())
        })),
    );
    let (compute, by) = (up.compute.clone(), cmp.clone());
    let stage = Stage::new("sort-route", up.partitions, move |ctx| {
        let bounds = route::bounds_of(&ctx.results_of(sample)?, parts, &*by)?;
        let items = compute(ctx)?;
        route::route(ctx, items, &bounds, &*by)
    })
    .shuffle_output(parts)
    .reads(sample);
    let map = plan.add_stage(up.declare(stage));
    Lowered {
        partitions: parts,
        reads: vec![map],
        in_memory: false,
        compute: Arc::new(move |ctx| {
            route::sort_pieces(ctx, ctx.shuffle_input(map)?, cmp.clone(), natural)
        }),
    }
}

/// The sort of [`ranges`]: sorted runs, merging readers.
fn sort_computed_input<T: Element, C>(
    plan: &mut Plan,
    up: &Lowered<T>,
    parts: u32,
    cmp: Arc<C>,
    natural: bool,
) -> Lowered<T>
where
    C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let wanted = sample::wanted(up.partitions, parts);
    let (compute, by) = (up.compute.clone(), cmp.clone());
    let stage = Stage::new("sort-runs", up.partitions, move |ctx| {
        let items = compute(ctx)?;
        ranges::write_run(ctx, items, wanted, by.clone(), natural)
    })
    .shuffle_output(1);
    let runs: StageRef = plan.add_stage(up.declare(stage));
    Lowered {
        partitions: parts,
        reads: vec![runs],
        in_memory: false,
        compute: Arc::new(move |ctx| {
            ranges::merge_cuts(ctx, ctx.broadcast_input(runs)?, parts, cmp.clone(), natural)
        }),
    }
}
