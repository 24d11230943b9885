//! The partition file: how one map task's shuffle output sits in a store.
//!
//! A map task writes one bucket per downstream partition. All its buckets
//! go into one object, so a stage of M map tasks makes M objects rather
//! than M × N tiny ones, and a reader fetches exactly its bucket with two
//! ranged reads (footer, then bucket):
//!
//! ```text
//! +----------+----------+-----+------------+---------------------+---------+-----------+
//! | bucket 0 | bucket 1 | ... | bucket N-1 | offsets: (N+1) × u64 | N: u32  | "SHOALPF1" |
//! +----------+----------+-----+------------+---------------------+---------+-----------+
//!                                          little-endian; bucket i = offsets[i]..offsets[i+1]
//! ```
//!
//! The bytes inside a bucket belong to the job that wrote them; the file
//! format does not interpret them.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::{Store, StoreError};

const MAGIC: &[u8; 8] = b"SHOALPF1";

/// Size of the footer of a partition file with `buckets` buckets.
pub fn footer_len(buckets: u32) -> u64 {
    8 * (buckets as u64 + 1) + 4 + MAGIC.len() as u64
}

/// Lays out `buckets` as a partition file: the buckets themselves (not
/// copied) followed by the footer. Concatenate the parts to get the file.
pub fn encode(buckets: Vec<Bytes>) -> Vec<Bytes> {
    let mut footer = BytesMut::with_capacity(footer_len(buckets.len() as u32) as usize);
    let mut offset = 0u64;
    footer.extend_from_slice(&offset.to_le_bytes());
    for bucket in &buckets {
        offset += bucket.len() as u64;
        footer.extend_from_slice(&offset.to_le_bytes());
    }
    footer.extend_from_slice(&(buckets.len() as u32).to_le_bytes());
    footer.extend_from_slice(MAGIC);
    let mut parts = buckets;
    parts.push(footer.freeze());
    parts
}

/// The bucket offsets recorded in a partition file's footer.
pub fn parse_footer(url: &str, footer: &[u8], buckets: u32) -> Result<Vec<u64>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        url: url.to_string(),
        reason,
    };
    if footer.len() as u64 != footer_len(buckets) || !footer.ends_with(MAGIC) {
        return Err(corrupt("missing partition-file footer".into()));
    }
    let count_at = footer.len() - MAGIC.len() - 4;
    let count = u32::from_le_bytes(footer[count_at..count_at + 4].try_into().expect("4 bytes"));
    if count != buckets {
        return Err(corrupt(format!("has {count} buckets, expected {buckets}")));
    }
    let offsets: Vec<u64> = footer[..count_at]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    if offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(corrupt("bucket offsets are not ascending".into()));
    }
    Ok(offsets)
}

/// Where bucket `bucket` lies in the partition file at `key`, which must
/// have `buckets` buckets: one suffix request reads the footer.
pub fn bucket_range(
    store: &Store,
    key: &str,
    bucket: u32,
    buckets: u32,
) -> Result<Range<u64>, StoreError> {
    let footer_size = footer_len(buckets);
    let (footer, size) = store.get_tail(key, footer_size)?;
    let url = store.object_url(key);
    if size < footer_size || footer.len() as u64 != footer_size {
        return Err(StoreError::Corrupt {
            url,
            reason: format!("{size} bytes is shorter than its footer"),
        });
    }
    let offsets = parse_footer(&url, &footer, buckets)?;
    let (start, end) = (offsets[bucket as usize], offsets[bucket as usize + 1]);
    if end > size - footer_size {
        return Err(StoreError::Corrupt {
            url,
            reason: format!("bucket {bucket} ends past the data ({end} bytes)"),
        });
    }
    Ok(start..end)
}

/// Reads bucket `bucket` of the partition file at `key`, which must have
/// `buckets` buckets.
pub fn read_bucket(
    store: &Store,
    key: &str,
    bucket: u32,
    buckets: u32,
) -> Result<Bytes, StoreError> {
    let range = bucket_range(store, key, bucket, buckets)?;
    store.get_range(key, range)
}

/// Splits an in-memory partition file into its buckets (no copies).
pub fn split(url: &str, file: &Bytes, buckets: u32) -> Result<Vec<Bytes>, StoreError> {
    let footer_size = footer_len(buckets) as usize;
    if file.len() < footer_size {
        return Err(StoreError::Corrupt {
            url: url.to_string(),
            reason: "shorter than its footer".into(),
        });
    }
    let data_len = (file.len() - footer_size) as u64;
    let offsets = parse_footer(url, &file[file.len() - footer_size..], buckets)?;
    if offsets.last().copied() != Some(data_len) {
        return Err(StoreError::Corrupt {
            url: url.to_string(),
            reason: "footer does not match the data length".into(),
        });
    }
    Ok(offsets
        .windows(2)
        .map(|w| file.slice(w[0] as usize..w[1] as usize))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"alpha"),
            Bytes::new(),
            Bytes::from_static(b"gamma!"),
        ]
    }

    fn concat(parts: &[Bytes]) -> Bytes {
        parts
            .iter()
            .flat_map(|p| p.iter().copied())
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn round_trips_through_a_store() {
        let store = Store::open("memory://partition-test").unwrap();
        let parts = encode(buckets());
        assert!(store.put_if_absent_parts("s0/p3", parts).unwrap());
        for (i, expected) in buckets().iter().enumerate() {
            let got = read_bucket(&store, "s0/p3", i as u32, 3).unwrap();
            assert_eq!(&got, expected);
        }
    }

    #[test]
    fn splits_in_memory() {
        let file = concat(&encode(buckets()));
        assert_eq!(split("mem", &file, 3).unwrap(), buckets());
    }

    #[test]
    fn rejects_wrong_bucket_count_and_garbage() {
        let file = concat(&encode(buckets()));
        assert!(split("mem", &file, 4).is_err());
        assert!(split("mem", &Bytes::from_static(b"short"), 3).is_err());
        let mut bad = file.to_vec();
        let n = bad.len();
        bad[n - 1] = b'X';
        assert!(split("mem", &Bytes::from(bad), 3).is_err());
    }
}
