//! Radix sort for plain integers, most significant digit first: one pass
//! scatters the values by the first bits that vary (after the range
//! shuffle of a sort, a partition's values share their high bits, which
//! are skipped), into buckets small enough to be sorted in cache. Big
//! buckets (skew) are split again the same way; small ones are sorted by
//! comparison. Equal integers are indistinguishable, so its order is the
//! comparison sort's.
//!
//! The values may come from a vector or straight from the little-endian
//! bytes of shuffle frames: either way they are read three times (range,
//! counts, scatter) and written once, into the output.

use std::any::TypeId;
use std::mem::MaybeUninit;

/// Integers with an order-preserving map to `u64`.
trait RadixKey: Copy + Ord + 'static {
    /// Bytes of the type.
    const BYTES: usize;
    fn key(self) -> u64;
    /// The value of `BYTES` little-endian bytes.
    fn from_le(bytes: &[u8]) -> Self;
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl RadixKey for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            fn key(self) -> u64 { self as u64 }
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of the width"))
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl RadixKey for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            // Flipping the sign bit maps signed order onto unsigned order.
            fn key(self) -> u64 { ((self as $u) ^ (1 << (<$u>::BITS - 1))) as u64 }
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of the width"))
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64);

/// Buckets of at most this many values are sorted by comparison (they
/// fit in the first-level cache, where pdqsort is quick; a second radix
/// pass over them measured slower).
const SMALL: usize = 1 << 10;

/// Values read in order, as often as the sort needs: a slice, or the
/// little-endian bytes of frames.
trait Values<K> {
    fn each(&self, f: impl FnMut(K));
}

impl<K: Copy> Values<K> for [K] {
    fn each(&self, mut f: impl FnMut(K)) {
        self.iter().for_each(|&k| f(k));
    }
}

/// Little-endian values in pieces of bytes, in order.
struct LePieces<'a>(&'a [&'a [u8]]);

impl<K: RadixKey> Values<K> for LePieces<'_> {
    fn each(&self, mut f: impl FnMut(K)) {
        for piece in self.0 {
            piece.chunks_exact(K::BYTES).for_each(|c| f(K::from_le(c)));
        }
    }
}

/// Which bits of the keys a pass sorts by: `bits` bits from `shift` up,
/// the highest that vary.
#[derive(Clone, Copy)]
struct Digit {
    shift: u32,
    mask: u64,
}

impl Digit {
    /// The digit for keys in `min..=max` (`None` when they are all equal):
    /// about one bucket per hundreds of values, at most 2^11 (more would
    /// scatter writes over too many cache lines at once).
    fn new(min: u64, max: u64, len: usize) -> Option<Digit> {
        let varying = 64 - (min ^ max).leading_zeros();
        if varying == 0 {
            return None;
        }
        let want = (usize::BITS - (len / 256).max(1).leading_zeros()).clamp(4, 11);
        let bits = want.min(varying);
        Some(Digit {
            shift: varying - bits,
            mask: (1 << bits) - 1,
        })
    }

    fn of(self, key: u64) -> usize {
        ((key >> self.shift) & self.mask) as usize
    }

    fn buckets(self) -> usize {
        self.mask as usize + 1
    }
}

/// Scatters `values` (`len` of them) by `digit` into `out`'s spare
/// capacity; returns the bucket boundaries (bucket b is `ends[b]..ends[b+1]`).
fn scatter<K: RadixKey, V: Values<K> + ?Sized>(
    values: &V,
    len: usize,
    digit: Digit,
    out: &mut [MaybeUninit<K>],
) -> Vec<usize> {
    let mut counts = vec![0usize; digit.buckets()];
    values.each(|k: K| counts[digit.of(k.key())] += 1);
    let mut ends = Vec::with_capacity(counts.len() + 1);
    let mut at = 0;
    for &c in &counts {
        ends.push(at);
        at += c;
    }
    ends.push(at);
    assert!(
        at == len && out.len() >= len,
        "values changed between passes"
    );
    let mut next = ends[..counts.len()].to_vec();
    values.each(|k: K| {
        let slot = &mut next[digit.of(k.key())];
        out[*slot].write(k);
        *slot += 1;
    });
    ends
}

/// The smallest and largest key of `values`.
fn range_of<K: RadixKey, V: Values<K> + ?Sized>(values: &V) -> (u64, u64) {
    let (mut min, mut max) = (u64::MAX, 0);
    values.each(|k: K| {
        min = min.min(k.key());
        max = max.max(k.key());
    });
    (min, max)
}

/// The `len` values sorted, in a new vector.
fn sorted_copy<K: RadixKey, V: Values<K> + ?Sized>(values: &V, len: usize) -> Vec<K> {
    let mut out: Vec<K> = Vec::with_capacity(len);
    let (min, max) = range_of(values);
    let Some(digit) = Digit::new(min, max, len) else {
        values.each(|k| out.push(k));
        return out;
    };
    let ends = scatter(values, len, digit, &mut out.spare_capacity_mut()[..len]);
    // SAFETY: the scatter wrote every slot of 0..len (its counts sum to
    // len, checked), with values of K (plain integers).
    unsafe { out.set_len(len) };
    sort_buckets(&mut out, &ends, &mut Vec::new());
    out
}

/// Sorts each bucket `ends[b]..ends[b+1]` of `items`.
fn sort_buckets<K: RadixKey>(items: &mut [K], ends: &[usize], scratch: &mut Vec<K>) {
    for bucket in ends.windows(2) {
        sort_in_place(&mut items[bucket[0]..bucket[1]], scratch);
    }
}

/// Sorts `items`, split by the radix (through `scratch`) while large.
fn sort_in_place<K: RadixKey>(items: &mut [K], scratch: &mut Vec<K>) {
    if items.len() <= SMALL {
        items.sort_unstable();
        return;
    }
    let (min, max) = range_of(&*items);
    let Some(digit) = Digit::new(min, max, items.len()) else {
        return; // all equal
    };
    scratch.clear();
    scratch.reserve(items.len());
    let ends = scatter(&*items, items.len(), digit, scratch.spare_capacity_mut());
    // SAFETY: the scatter wrote every slot of 0..items.len().
    unsafe { scratch.set_len(items.len()) };
    items.copy_from_slice(scratch);
    sort_buckets(items, &ends, scratch);
}

/// Sorts `items` ascending if `T` is an integer of at most 64 bits;
/// returns false (nothing done) for any other type.
pub(crate) fn sort_plain<T: 'static>(items: &mut Vec<T>) -> bool {
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                // SAFETY: T is $t (equal TypeIds), so the vector's layout,
                // capacity and allocator are exactly those of a Vec<$t>.
                let items = unsafe { &mut *(items as *mut Vec<T>).cast::<Vec<$t>>() };
                if items.len() <= SMALL {
                    items.sort_unstable();
                } else {
                    *items = sorted_copy(&items[..], items.len());
                }
                // (A copy: sorting in place would need the same scratch.)
                return true;
            }
        )*};
    }
    try_type!(u64, i64, u32, i32, u16, i16, u8, i8);
    false
}

/// The integers held as little-endian bytes in `pieces`, sorted, if `T`
/// is an integer of at most 64 bits (`None` otherwise): read straight
/// from the bytes, with no copy before the sort.
pub(crate) fn sorted_from_le<T: 'static>(pieces: &[&[u8]]) -> Option<Vec<T>> {
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                let len = pieces.iter().map(|p| p.len() / <$t as RadixKey>::BYTES).sum();
                let sorted: Vec<$t> = sorted_copy(&LePieces(pieces), len);
                let mut sorted = std::mem::ManuallyDrop::new(sorted);
                // SAFETY: T is $t (equal TypeIds): the vector's parts are
                // those of a Vec<T>, taken over once (ManuallyDrop).
                return Some(unsafe {
                    Vec::from_raw_parts(sorted.as_mut_ptr().cast::<T>(), sorted.len(), sorted.capacity())
                });
            }
        )*};
    }
    try_type!(u64, i64, u32, i32, u16, i16, u8, i8);
    None
}

/// Appends the order-preserving `u64` key of every element of `items` to
/// `out` if `T` is an integer of at most 64 bits (comparing keys then
/// compares the integers); returns false (nothing done) otherwise.
pub(crate) fn keys_of<T: 'static>(items: &[T], out: &mut Vec<u64>) -> bool {
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                // SAFETY: T is $t (equal TypeIds): same layout and length.
                let items = unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<$t>(), items.len()) };
                out.extend(items.iter().map(|x| x.key()));
                return true;
            }
        )*};
    }
    try_type!(u64, i64, u32, i32, u16, i16, u8, i8);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Copy + Ord + std::fmt::Debug + 'static>(mut items: Vec<T>) {
        let mut want = items.clone();
        want.sort();
        assert!(sort_plain(&mut items));
        assert_eq!(items, want);
    }

    #[test]
    fn sorts_every_plain_integer_type() {
        let mut state = 1u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        let raw: Vec<u64> = (0..20_000).map(|_| next()).collect();
        check(raw.clone());
        check(raw.iter().map(|&x| x as i64).collect());
        check(raw.iter().map(|&x| (x >> 40) as i32).collect());
        check(raw.iter().map(|&x| x as u16).collect());
        check(raw.iter().map(|&x| x as i8).collect());
        // Shared high bytes are skipped; small inputs fall back.
        check(raw.iter().map(|&x| (1u64 << 60) | (x & 0xffff)).collect());
        check(vec![3u64, 1, 2]);
        // Skew: one value nearly everywhere, a few others; all equal.
        let mut skewed = vec![7u64; 50_000];
        skewed.extend(raw.iter().take(3_000));
        check(skewed);
        check(vec![u64::MAX; 5_000]);
        check(raw.iter().map(|&x| x as i64 >> 3).collect());
        assert!(!sort_plain(&mut vec![1.0f64]));
        assert!(!sort_plain(&mut vec![1u128]));
        // From little-endian bytes in pieces, cut anywhere between values.
        let bytes: Vec<u8> = raw.iter().flat_map(|x| x.to_le_bytes()).collect();
        let pieces = [&bytes[..8_000], &bytes[8_000..8_000], &bytes[8_000..]];
        let mut want = raw.clone();
        want.sort();
        assert_eq!(sorted_from_le::<u64>(&pieces), Some(want));
        let small: Vec<u8> = [5i32, -2, 9].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(sorted_from_le::<i32>(&[&small]), Some(vec![-2, 5, 9]));
        assert_eq!(sorted_from_le::<f64>(&[&small]), None);
    }
}
