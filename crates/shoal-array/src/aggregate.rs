//! Aggregations: `fold`, `reduce`, numeric summaries and `top_k`.
//!
//! Each partition is aggregated inside its task; the driver combines the
//! per-partition partials **in partition order**, so for a fixed
//! partitioning the answer is deterministic even for floating point.

use std::sync::Arc;

use crate::array::{decode_result, encode_blob};
use crate::codec::Element;
use crate::part::BATCH;
use crate::{Action, ArrayError, DistArray};

/// Plain numbers: what `sum`, `min`, `max`, `mean` and `histogram` need.
pub trait Num: Element + Copy + PartialOrd {
    /// The additive identity.
    fn zero() -> Self;
    /// Addition; wrapping for integers, so a sum never panics.
    fn plus(self, other: Self) -> Self;
    /// The value as `f64` (for `mean` and `histogram`).
    fn to_f64(self) -> f64;
}

macro_rules! num_int {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn zero() -> Self { 0 }
            fn plus(self, other: Self) -> Self { self.wrapping_add(other) }
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
num_int!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

macro_rules! num_float {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn zero() -> Self { 0.0 }
            fn plus(self, other: Self) -> Self { self + other }
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
num_float!(f32, f64);

impl<T: Element> DistArray<T> {
    /// The action behind [`DistArray::fold`], for registered jobs.
    pub fn fold_action<A: Element>(
        &self,
        zero: A,
        seq: impl Fn(A, T) -> A + Send + Sync + 'static,
        combine: impl Fn(A, A) -> A + Send + 'static,
    ) -> Action<A> {
        let task_zero = zero.clone();
        self.action(
            "fold",
            move |ctx, compute| {
                let mut partial = Some(task_zero.clone());
                compute(ctx)?.for_each(|x| {
                    partial = partial.take().map(|acc| seq(acc, x));
                })?;
                let partial = partial.expect("folded");
                encode_blob(std::slice::from_ref(&partial))
            },
            move |results| {
                let mut total = zero;
                for (index, blob) in results.iter().enumerate() {
                    for partial in decode_result::<A>(blob, index)? {
                        total = combine(total, partial);
                    }
                }
                Ok(total)
            },
        )
    }

    /// Folds every partition from `zero` with `seq`, then combines the
    /// partials in partition order with `combine`, starting from `zero`.
    /// `zero` must be an identity of `combine` for the result not to depend
    /// on the partitioning.
    pub fn fold<A: Element>(
        &self,
        zero: A,
        seq: impl Fn(A, T) -> A + Send + Sync + 'static,
        combine: impl Fn(A, A) -> A + Send + 'static,
    ) -> Result<A, ArrayError> {
        self.session.execute(self.fold_action(zero, seq, combine))
    }

    /// The action behind [`DistArray::reduce`], for registered jobs.
    pub fn reduce_action(
        &self,
        f: impl Fn(&T, &T) -> T + Send + Sync + 'static,
    ) -> Action<Option<T>> {
        let f = Arc::new(f);
        let task_f = f.clone();
        self.action(
            "reduce",
            move |ctx, compute| {
                let mut partial: Option<T> = None;
                compute(ctx)?.for_each(|x| {
                    partial = Some(match partial.take() {
                        Some(acc) => task_f(&acc, &x),
                        None => x,
                    });
                })?;
                encode_blob(partial.as_slice())
            },
            move |results| {
                let mut total: Option<T> = None;
                for (index, blob) in results.iter().enumerate() {
                    for partial in decode_result::<T>(blob, index)? {
                        total = Some(match total {
                            Some(acc) => f(&acc, &partial),
                            None => partial,
                        });
                    }
                }
                Ok(total)
            },
        )
    }

    /// Combines all elements with the associative `f`, in order; `None`
    /// when the array is empty.
    pub fn reduce(
        &self,
        f: impl Fn(&T, &T) -> T + Send + Sync + 'static,
    ) -> Result<Option<T>, ArrayError> {
        self.session.execute(self.reduce_action(f))
    }
}

impl<T: Element + Ord> DistArray<T> {
    /// The `k` largest elements, largest first. Among elements that compare
    /// equal, which ones are kept is unspecified.
    pub fn top_k(&self, k: usize) -> Result<Vec<T>, ArrayError> {
        let desc = move |items: &mut Vec<T>| {
            items.sort_by(|a, b| b.cmp(a));
            items.truncate(k);
        };
        let action = self.action(
            "top_k",
            move |ctx, compute| {
                // Batch by batch, keeping at most about 2k candidates.
                let keep = |items: &mut Vec<T>| {
                    if items.len() > k {
                        if k > 0 {
                            items.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
                        }
                        items.truncate(k);
                    }
                };
                let mut items = Vec::new();
                compute(ctx)?.for_each(|x| {
                    items.push(x);
                    if items.len() >= k.max(BATCH).saturating_mul(2) {
                        keep(&mut items);
                    }
                })?;
                keep(&mut items);
                desc(&mut items);
                encode_blob(&items)
            },
            move |results| {
                let mut all = Vec::new();
                for (index, blob) in results.iter().enumerate() {
                    all.extend(decode_result::<T>(blob, index)?);
                }
                desc(&mut all);
                Ok(all)
            },
        );
        self.session.execute(action)
    }
}

/// Whether `x` is unordered with itself (a NaN).
fn is_nan<T: PartialOrd>(x: &T) -> bool {
    x.partial_cmp(x).is_none()
}

impl<T: Num> DistArray<T> {
    /// The sum (wrapping for integers; 0 when empty).
    pub fn sum(&self) -> Result<T, ArrayError> {
        self.fold(T::zero(), T::plus, T::plus)
    }

    /// The smallest element, ignoring NaNs; `None` when there is none.
    pub fn min(&self) -> Result<Option<T>, ArrayError> {
        self.extreme(|x, best| x < best)
    }

    /// The largest element, ignoring NaNs; `None` when there is none.
    pub fn max(&self) -> Result<Option<T>, ArrayError> {
        self.extreme(|x, best| x > best)
    }

    fn extreme(&self, better: fn(&T, &T) -> bool) -> Result<Option<T>, ArrayError> {
        let pick = move |best: Option<T>, x: T| match best {
            _ if is_nan(&x) => best,
            Some(b) if !better(&x, &b) => Some(b),
            _ => Some(x),
        };
        self.fold(None, pick, move |a, b| match b {
            Some(b) => pick(a, b),
            None => a,
        })
    }

    /// The arithmetic mean as `f64`; `None` when empty.
    pub fn mean(&self) -> Result<Option<f64>, ArrayError> {
        let (sum, count) = self.fold(
            (0.0f64, 0u64),
            |(s, c), x| (s + x.to_f64(), c + 1),
            |(s1, c1), (s2, c2)| (s1 + s2, c1 + c2),
        )?;
        Ok((count > 0).then(|| sum / count as f64))
    }

    /// Counts of elements in `bins` equal-width bins over `[lo, hi]`
    /// (the last bin includes `hi`); elements outside, and NaNs, are not
    /// counted. No bins, or `hi <= lo`, gives all-zero counts.
    pub fn histogram(&self, bins: usize, lo: f64, hi: f64) -> Result<Vec<u64>, ArrayError> {
        let width = (hi - lo) / bins as f64;
        let usable = bins > 0 && hi > lo;
        self.fold(
            vec![0u64; bins],
            move |mut counts, x| {
                let x = x.to_f64();
                if usable && x >= lo && x <= hi {
                    let bin = (((x - lo) / width) as usize).min(bins - 1);
                    counts[bin] += 1;
                }
                counts
            },
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
    }
}
