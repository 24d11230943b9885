//! LSD radix sort for plain integers: eight passes of one byte each at
//! most, skipping bytes that are the same in every value (after the range
//! shuffle of a sort, a partition's values share their high bytes), with
//! all histograms counted in one pass. Equal integers are
//! indistinguishable, so its order is the comparison sort's.

use std::any::TypeId;

/// Integers with an order-preserving map to `u64`.
trait RadixKey: Copy + 'static {
    /// Bytes that matter (the type's width).
    const BYTES: usize;
    fn key(self) -> u64;
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl RadixKey for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            fn key(self) -> u64 { self as u64 }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl RadixKey for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            // Flipping the sign bit maps signed order onto unsigned order.
            fn key(self) -> u64 { ((self as $u) ^ (1 << (<$u>::BITS - 1))) as u64 }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64);

/// Below this many values a comparison sort is as fast.
const SMALL: usize = 1 << 12;

/// Sorts `items` ascending if `T` is an integer of at most 64 bits;
/// returns false (nothing done) for any other type.
pub(crate) fn sort_plain<T: 'static>(items: &mut Vec<T>) -> bool {
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                // SAFETY: T is $t (equal TypeIds), so the vector's layout,
                // capacity and allocator are exactly those of a Vec<$t>.
                let items = unsafe { &mut *(items as *mut Vec<T>).cast::<Vec<$t>>() };
                radix_sort(items);
                return true;
            }
        )*};
    }
    try_type!(u64, i64, u32, i32, u16, i16, u8, i8);
    false
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

fn radix_sort<K: RadixKey + Ord>(items: &mut Vec<K>) {
    if items.len() <= SMALL {
        items.sort_unstable();
        return;
    }
    let mut counts = vec![[0usize; 256]; K::BYTES];
    for item in items.iter() {
        let key = item.key();
        for (byte, count) in counts.iter_mut().enumerate() {
            count[((key >> (8 * byte)) & 0xff) as usize] += 1;
        }
    }
    let mut scratch: Vec<K> = Vec::with_capacity(items.len());
    let n = items.len();
    for (byte, count) in counts.iter().enumerate() {
        if count.contains(&n) {
            continue; // every value has the same byte here
        }
        let mut offsets = [0usize; 256];
        let mut at = 0;
        for (digit, &c) in count.iter().enumerate() {
            offsets[digit] = at;
            at += c;
        }
        let shift = 8 * byte;
        // SAFETY: `scratch` has capacity n; the offsets of the 256 digits
        // partition 0..n by their counts, so every slot in 0..n is written
        // exactly once before `set_len`, and none outside it.
        unsafe {
            let out = scratch.as_mut_ptr();
            for item in items.iter() {
                let digit = ((item.key() >> shift) & 0xff) as usize;
                out.add(offsets[digit]).write(*item);
                offsets[digit] += 1;
            }
            scratch.set_len(n);
        }
        std::mem::swap(items, &mut scratch);
        // SAFETY: K is Copy (no drop); the old contents are overwritten
        // in the next pass before being read.
        unsafe { scratch.set_len(0) };
    }
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
        assert!(!sort_plain(&mut vec![1.0f64]));
        assert!(!sort_plain(&mut vec![1u128]));
    }
}
