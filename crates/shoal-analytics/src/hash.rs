//! The hasher of task-local maps (users, items and event names interned
//! per partition). Not for routing: rows go to partitions by
//! `shoal_core::route`, the one routing hash of every shuffle.
//!
//! Seedless, so a task's map layout — and its run time — is the same from
//! run to run: FxHash-style word mixing, fast on short ids, plus a murmur3
//! finaliser that fixes FxHash's weak low bits, which the map's bucket
//! index uses.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

/// A seedless [`Hasher`]: FxHash word mixing plus a murmur3 finaliser.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedHasher {
    state: u64,
}

impl FixedHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FixedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length tag keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.state;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// [`BuildHasher`] for task-local hash maps keyed by ids and names.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedState;

impl BuildHasher for FixedState {
    type Hasher = FixedHasher;

    #[inline]
    fn build_hasher(&self) -> FixedHasher {
        FixedHasher::default()
    }
}

/// A `HashMap` using [`FixedState`].
pub type FixedMap<K, V> = std::collections::HashMap<K, V, FixedState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(bytes: &[u8]) -> u64 {
        let mut h = FixedHasher::default();
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn equal_bytes_hash_equal_and_lengths_are_told_apart() {
        assert_eq!(hash(b"user-1"), hash(b"user-1"));
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b"user-1"), hash(b"user-2"));
    }

    #[test]
    fn low_bits_are_spread() {
        // A map indexes buckets by the low bits: short sequential ids must
        // not collide there.
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            counts[(hash(format!("u{i}").as_bytes()) % 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
