//! How elements become bytes: frames of one codec per element type.
//!
//! A **frame** is a little-endian `u64` element count followed by the
//! elements. Plain numeric types (`u8`..`u128`, `i8`..`i128`, `f32`,
//! `f64`) use the `le` codec: each element as its fixed-width
//! little-endian bytes, so encoding and decoding are a copy. Every other
//! type uses `postcard` (compact, varint integers), element after element.
//! A buffer may hold several frames back to back; readers take them all.
//!
//! The codec is chosen per type at compile time through `TypeId`, which the
//! optimiser folds away: there is no run-time dispatch per element.

use std::any::{Any, TypeId};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a `DistArray` can hold: serialisable, shareable between threads
/// and clonable. Implemented for every such type.
pub trait Element: Serialize + DeserializeOwned + Send + Sync + Clone + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + Clone + 'static> Element for T {}

/// Fixed-width little-endian types: (type, width, codec name).
macro_rules! fixed_width {
    ($mac:ident) => {
        $mac!(u8, 1, "le-u8");
        $mac!(u16, 2, "le-u16");
        $mac!(u32, 4, "le-u32");
        $mac!(u64, 8, "le-u64");
        $mac!(u128, 16, "le-u128");
        $mac!(i8, 1, "le-i8");
        $mac!(i16, 2, "le-i16");
        $mac!(i32, 4, "le-i32");
        $mac!(i64, 8, "le-i64");
        $mac!(i128, 16, "le-i128");
        $mac!(f32, 4, "le-f32");
        $mac!(f64, 8, "le-f64");
    };
}

/// The codec name recorded in manifests: `le-<type>` or `postcard`.
pub fn codec_name<T: Element>() -> &'static str {
    macro_rules! name {
        ($t:ty, $w:expr, $name:expr) => {
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                return $name;
            }
        };
    }
    fixed_width!(name);
    "postcard"
}

/// The width of `T`'s elements when its codec is fixed-width
/// little-endian (plain numbers), `None` for postcard.
pub(crate) fn fixed_width<T: 'static>() -> Option<usize> {
    macro_rules! width {
        ($t:ty, $w:expr, $name:expr) => {
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                return Some($w);
            }
        };
    }
    fixed_width!(width);
    None
}

/// Bytes `item` holds beyond its inline size, estimated for memory
/// accounting: nothing for plain numbers, else the size of its postcard
/// encoding (about the bytes of its strings and vectors).
pub(crate) fn heap_estimate<T: Element>(item: &T) -> u64 {
    if fixed_width::<T>().is_some() {
        return 0;
    }
    postcard::experimental::serialized_size(item).map_or(0, |n| n as u64)
}

/// Appends the elements `items[i]` for each `i` of `indices`, in that
/// order, without a frame header (the caller records the count).
pub(crate) fn encode_gather<T: Element>(
    items: &[T],
    indices: &[u32],
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    macro_rules! fixed {
        ($t:ty, $w:expr, $name:expr) => {
            if let Some(values) = cast_slice::<T, $t>(items) {
                out.reserve(indices.len() * $w);
                for &i in indices {
                    out.extend_from_slice(&values[i as usize].to_le_bytes());
                }
                return Ok(());
            }
        };
    }
    fixed_width!(fixed);
    for &i in indices {
        postcard::to_io(&items[i as usize], &mut *out)?;
    }
    Ok(())
}

/// Whether `T` is a plain integer: equal values are indistinguishable, so
/// unstable sorts are as good as stable ones.
pub(crate) fn is_plain_integer<T: 'static>() -> bool {
    macro_rules! int {
        ($($t:ty),*) => { $(TypeId::of::<T>() == TypeId::of::<$t>())||* };
    }
    int!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128)
}

/// Reinterprets `items` as a slice of `U` when `T` is `U`.
fn cast_slice<T: 'static, U: 'static>(items: &[T]) -> Option<&[U]> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        // SAFETY: T and U are the same type (equal TypeIds), so the slice's
        // layout, alignment and length are unchanged.
        Some(unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<U>(), items.len()) })
    } else {
        None
    }
}

/// Plain numbers that have a fixed-width little-endian form.
trait Le: Copy + 'static {
    const WIDTH: usize;
    fn to_le(self, out: &mut [u8]);
    fn from_le(bytes: &[u8]) -> Self;
}

macro_rules! le {
    ($t:ty, $w:expr, $name:expr) => {
        impl Le for $t {
            const WIDTH: usize = $w;
            fn to_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunk width"))
            }
        }
    };
}
fixed_width!(le);

/// Appends `values` as little-endian bytes.
fn append_le<V: Le>(values: &[V], out: &mut Vec<u8>) {
    if cfg!(target_endian = "little") {
        // SAFETY: V is a plain number type (no padding, every byte
        // initialised) and on a little-endian target its memory is exactly
        // its little-endian encoding; u8 has alignment 1.
        let raw = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        };
        out.extend_from_slice(raw);
        return;
    }
    let start = out.len();
    out.resize(start + values.len() * V::WIDTH, 0);
    for (chunk, value) in out[start..].chunks_exact_mut(V::WIDTH).zip(values) {
        value.to_le(chunk);
    }
}

/// Appends the numbers encoded little-endian in `bytes` (a whole number
/// of widths) to `out`.
fn extend_le<V: Le>(bytes: &[u8], out: &mut Vec<V>) {
    let count = bytes.len() / V::WIDTH;
    if cfg!(target_endian = "little") {
        out.reserve(count);
        // SAFETY: the spare capacity holds at least `count` values; every
        // bit pattern is a valid V (plain numbers) and on a little-endian
        // target the bytes are exactly their memory; the copy is bytewise,
        // so `bytes` needs no alignment. set_len covers only copied values.
        unsafe {
            let dst = out.as_mut_ptr().add(out.len()).cast::<u8>();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, count * V::WIDTH);
            out.set_len(out.len() + count);
        }
        return;
    }
    out.extend(bytes.chunks_exact(V::WIDTH).map(V::from_le));
}

/// Appends one frame holding `items` to `out`.
pub fn encode_frame<T: Element>(items: &[T], out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    out.extend_from_slice(&(items.len() as u64).to_le_bytes());
    macro_rules! fixed {
        ($t:ty, $w:expr, $name:expr) => {
            if let Some(values) = cast_slice::<T, $t>(items) {
                append_le(values, out);
                return Ok(());
            }
        };
    }
    fixed_width!(fixed);
    for item in items {
        postcard::to_io(item, &mut *out)?;
    }
    Ok(())
}

/// Appends `items` without a frame header (the caller records the count).
pub(crate) fn encode_elements<T: Element>(
    items: &[T],
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    macro_rules! fixed {
        ($t:ty, $w:expr, $name:expr) => {
            if let Some(values) = cast_slice::<T, $t>(items) {
                append_le(values, out);
                return Ok(());
            }
        };
    }
    fixed_width!(fixed);
    for item in items {
        postcard::to_io(item, &mut *out)?;
    }
    Ok(())
}

/// Decodes exactly `count` elements filling `bytes` (no frame header).
pub(crate) fn decode_elements<T: Element>(
    bytes: &[u8],
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), String> {
    let rest = decode_frame(count as u64, bytes, out)?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("{} stray bytes after {count} elements", rest.len()))
    }
}

/// `items` as their little-endian bytes without a copy, when `T` is a
/// plain number whose memory is its encoding (little-endian targets);
/// the vector back otherwise.
pub(crate) fn into_le_bytes<T: Element>(items: Vec<T>) -> Result<bytes::Bytes, Vec<T>> {
    /// A vector of plain numbers seen as its bytes; built only below,
    /// after checking that `T` is one.
    struct LeVec<T>(Vec<T>);
    impl<T: Send + 'static> AsRef<[u8]> for LeVec<T> {
        fn as_ref(&self) -> &[u8] {
            // SAFETY: T is a plain number (checked before building LeVec):
            // no padding, every byte initialised; u8 has alignment 1.
            unsafe {
                std::slice::from_raw_parts(
                    self.0.as_ptr().cast::<u8>(),
                    std::mem::size_of_val(&self.0[..]),
                )
            }
        }
    }
    if cfg!(target_endian = "little") && fixed_width::<T>() == Some(std::mem::size_of::<T>()) {
        return Ok(bytes::Bytes::from_owner(LeVec(items)));
    }
    Err(items)
}

/// One frame holding `items`, as a fresh buffer.
pub fn encode<T: Element>(items: &[T]) -> Result<Vec<u8>, postcard::Error> {
    let mut out = Vec::with_capacity(8 + items.len() * std::mem::size_of::<T>().min(16));
    encode_frame(items, &mut out)?;
    Ok(out)
}

/// Decodes every frame in `bytes`, appending the elements to `out`.
pub fn decode_into<T: Element>(mut bytes: &[u8], out: &mut Vec<T>) -> Result<(), String> {
    while !bytes.is_empty() {
        let Some((count, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(format!("{} stray bytes after the last frame", bytes.len()));
        };
        let count = u64::from_le_bytes(*count);
        bytes = decode_frame(count, rest, out)?;
    }
    Ok(())
}

/// How many elements the first frame of `bytes` announces, capped by the
/// buffer's size (so a corrupt count cannot cause a huge reservation):
/// for reserving room before decoding several buffers into one vector.
pub fn count_hint(bytes: &[u8]) -> usize {
    bytes.split_first_chunk::<8>().map_or(0, |(count, rest)| {
        (u64::from_le_bytes(*count) as usize).min(rest.len())
    })
}

/// Decodes every frame in `bytes` into a new vector.
pub fn decode<T: Element>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    decode_into(bytes, &mut out)?;
    Ok(out)
}

/// Decodes `count` elements from the front of `bytes`; returns the rest.
fn decode_frame<'a, T: Element>(
    count: u64,
    bytes: &'a [u8],
    out: &mut Vec<T>,
) -> Result<&'a [u8], String> {
    macro_rules! fixed {
        ($t:ty, $w:expr, $name:expr) => {
            if let Some(values) = (out as &mut dyn Any).downcast_mut::<Vec<$t>>() {
                let len = usize::try_from(count)
                    .ok()
                    .and_then(|c| c.checked_mul($w))
                    .filter(|&len| len <= bytes.len())
                    .ok_or_else(|| {
                        format!("frame of {count} elements overruns {} bytes", bytes.len())
                    })?;
                extend_le(&bytes[..len], values);
                return Ok(&bytes[len..]);
            }
        };
    }
    fixed_width!(fixed);
    // A corrupt count must not make us reserve terabytes.
    out.reserve((count as usize).min(bytes.len()));
    let mut rest = bytes;
    for index in 0..count {
        let (item, tail) = postcard::take_from_bytes::<T>(rest)
            .map_err(|e| format!("element {index} of {count}: {e}"))?;
        out.push(item);
        rest = tail;
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_for_fixed_and_postcard_types() {
        let ints: Vec<u64> = vec![0, 1, u64::MAX, 42];
        assert_eq!(decode::<u64>(&encode(&ints).unwrap()).unwrap(), ints);
        assert_eq!(encode(&ints).unwrap().len(), 8 + 4 * 8);
        let pairs = vec![(1u32, "a".to_string()), (300, String::new())];
        assert_eq!(
            decode::<(u32, String)>(&encode(&pairs).unwrap()).unwrap(),
            pairs
        );
        let units = vec![(), (), ()];
        assert_eq!(decode::<()>(&encode(&units).unwrap()).unwrap(), units);
    }

    #[test]
    fn several_frames_concatenate() {
        let mut buf = encode(&[1i32, 2]).unwrap();
        encode_frame(&[3i32], &mut buf).unwrap();
        assert_eq!(decode::<i32>(&buf).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        let mut buf = encode(&[1u64, 2]).unwrap();
        buf.truncate(12);
        assert!(decode::<u64>(&buf).is_err());
        let mut strings = encode(&["abc".to_string()]).unwrap();
        strings.truncate(10);
        assert!(decode::<String>(&strings).is_err());
        assert!(decode::<u64>(&[1, 2, 3]).is_err());
    }

    #[test]
    fn codec_names() {
        assert_eq!(codec_name::<f64>(), "le-f64");
        assert_eq!(codec_name::<String>(), "postcard");
        assert!(is_plain_integer::<i16>());
        assert!(!is_plain_integer::<f32>());
    }
}
