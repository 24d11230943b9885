//! The user partitioning hash.
//!
//! Every node must send a user to the same partition, so the hash is a fixed
//! function of the bytes: no per-process seed (`RandomState`), no
//! CPU-dependent instructions (ahash picks AES rounds when available), and
//! explicit little-endian reads. FxHash-style word mixing is fast on short
//! ids; a final avalanche fixes FxHash's weak low bits, which `% P` uses.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Hashes `bytes` identically on every machine and build.
#[inline]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = FixedHasher::default();
    h.write(bytes);
    h.finish()
}

/// The partition (`0..partitions`) a user id belongs to.
#[inline]
pub fn partition_of(user: &[u8], partitions: u32) -> u32 {
    (stable_hash(user) % u64::from(partitions.max(1))) as u32
}

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

    #[test]
    fn hash_is_pinned() {
        // Changing these values re-partitions every stored shuffle: only on purpose.
        // Values from an independent re-implementation (Python), so a change
        // of endianness, word size or std behaviour shows up here.
        assert_eq!(stable_hash(b""), 0);
        assert_eq!(stable_hash(b"user-1"), 0x95b1_8e66_8a4b_2739);
        assert_eq!(
            stable_hash(b"a-much-longer-user-id-0001"),
            0xdc1f_b3df_c08a_b3e2
        );
        assert_eq!(partition_of(b"user-1", 20), 9);
        assert_eq!(stable_hash(b"user-1"), stable_hash(b"user-1"));
        assert_ne!(stable_hash(b"a"), stable_hash(b"a\0"));
        assert_ne!(stable_hash(b"user-1"), stable_hash(b"user-2"));
    }

    #[test]
    fn partitions_are_used_evenly() {
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            counts[partition_of(format!("u{i}").as_bytes(), 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
