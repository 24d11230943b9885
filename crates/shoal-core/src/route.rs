//! Routing keys to partitions: the one hash every shuffle uses.
//!
//! A map task sends each row to the bucket of its key, and the reader of
//! bucket *p* must get every row of every key routed to *p* — from every
//! map task, on every machine, in every run. So the hash is a fixed
//! function of the key's bytes: never `std`'s randomly seeded hashers, nor
//! one that picks CPU-specific instructions. It is 64-bit FNV-1a: tiny,
//! fully specified, and quick on the short keys shuffles carry (words, user
//! ids, encoded keys). User-visible results follow from it — wordcount's
//! and DistArray's group order, which keys share a partition — so changing
//! it changes outputs; the pinned values below say so.
//!
//! ```
//! use shoal_core::route::{partition_of, stable_hash};
//! assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
//! assert!(partition_of(b"user-1", 8) < 8);
//! ```

/// FNV-1a's 64-bit offset basis.
const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a (64 bit) of `key`: the same on every machine and in every process.
#[inline]
pub fn stable_hash(key: &[u8]) -> u64 {
    key.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The partition (`0..partitions`) of a key whose [`stable_hash`] is `hash`;
/// `partitions` of 0 counts as 1.
#[inline]
pub fn bucket_of(hash: u64, partitions: u32) -> u32 {
    (hash % u64::from(partitions.max(1))) as u32
}

/// The partition (`0..partitions`) `key` is routed to: `stable_hash(key) %
/// partitions`.
#[inline]
pub fn partition_of(key: &[u8], partitions: u32) -> u32 {
    bucket_of(stable_hash(key), partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf29ce484222325);
        assert_eq!(stable_hash(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn partitions_are_pinned_and_used_evenly() {
        // Changing these re-routes every shuffle (and reorders wordcount's
        // and DistArray's groups): only on purpose.
        // Values from an independent implementation (Python).
        assert_eq!(stable_hash(b"user-1"), 0xf84b_a2aa_754a_4bd4);
        assert_eq!(partition_of(b"user-1", 20), 8);
        assert_eq!(partition_of(b"x", 0), 0);
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
