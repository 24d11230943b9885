//! A hash that is the same on every machine and in every process.

/// FNV-1a, 64 bit. Shuffles route rows by key hash, and every node must
/// route a key to the same partition, so `std`'s randomly seeded hashers
/// are out; FNV-1a is tiny, fast on short keys and fully specified.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_published_fnv1a_vectors() {
        assert_eq!(super::stable_hash(b""), 0xcbf29ce484222325);
        assert_eq!(super::stable_hash(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(super::stable_hash(b"foobar"), 0x85944171f73967e8);
    }
}
