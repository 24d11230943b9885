//! How records become bytes in run files.

/// Encodes and decodes records for run files. Works on slices so that
/// fixed-width records can move as plain bytes, without per-record work.
pub trait RunCodec: Send + Sync {
    /// The record type.
    type Item;

    /// Appends `items` to `out`.
    fn encode(&self, items: &[Self::Item], out: &mut Vec<u8>);

    /// Decodes exactly `count` records filling `bytes`, appending them to
    /// `out`; an error says what is wrong with the bytes.
    fn decode(&self, bytes: &[u8], count: usize, out: &mut Vec<Self::Item>) -> Result<(), String>;

    /// Bytes a record holds on the heap beyond its inline size (strings,
    /// vectors), for memory accounting. Estimates are fine.
    fn heap_size(&self, _item: &Self::Item) -> usize {
        0
    }
}

/// Byte records `(key, value)`: each as two little-endian `u32` lengths,
/// then the key and value bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyValueCodec;

impl RunCodec for KeyValueCodec {
    type Item = (Vec<u8>, Vec<u8>);

    fn encode(&self, items: &[Self::Item], out: &mut Vec<u8>) {
        for (key, value) in items {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
    }

    fn decode(
        &self,
        mut bytes: &[u8],
        count: usize,
        out: &mut Vec<Self::Item>,
    ) -> Result<(), String> {
        out.reserve(count);
        for index in 0..count {
            let short = || format!("record {index} of {count} is cut short");
            let (lens, rest) = bytes.split_first_chunk::<8>().ok_or_else(short)?;
            let key_len = u32::from_le_bytes(lens[..4].try_into().expect("4 bytes")) as usize;
            let value_len = u32::from_le_bytes(lens[4..].try_into().expect("4 bytes")) as usize;
            if rest.len() < key_len + value_len {
                return Err(short());
            }
            let (key, rest) = rest.split_at(key_len);
            let (value, rest) = rest.split_at(value_len);
            out.push((key.to_vec(), value.to_vec()));
            bytes = rest;
        }
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(format!("{} stray bytes after {count} records", bytes.len()))
        }
    }

    fn heap_size(&self, item: &Self::Item) -> usize {
        item.0.capacity() + item.1.capacity()
    }
}
