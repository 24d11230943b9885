//! Concatenating the result blobs of plain numbers into one vector on
//! every core: after a sort, `collect` is one copy of the whole array
//! into fresh memory, and on one thread that copy (and the page faults of
//! the fresh memory) was the one serial step left in the job.

use std::mem::MaybeUninit;

use crate::codec::{fixed_width, Element};

/// Below this many bytes one thread copies: starting threads would cost
/// more than they save.
const PARALLEL_FROM: usize = 16 << 20;

/// The elements of `blobs` (each the little-endian bytes of plain numbers
/// of `T`), in order, in one vector — or `None` when `T` is not a plain
/// number whose memory is its encoding, or the blobs are small (the
/// caller decodes them one by one). A blob that is not a whole number of
/// elements is an error naming its index.
pub(crate) fn concat_plain<T: Element>(
    blobs: &[impl AsRef<[u8]> + Sync],
) -> Option<Result<Vec<T>, String>> {
    let width = std::mem::size_of::<T>();
    if !cfg!(target_endian = "little") || fixed_width::<T>() != Some(width) {
        return None;
    }
    let total: usize = blobs.iter().map(|b| b.as_ref().len()).sum();
    if total < PARALLEL_FROM {
        return None;
    }
    if let Some(index) = blobs
        .iter()
        .position(|b| !b.as_ref().len().is_multiple_of(width))
    {
        let len = blobs[index].as_ref().len();
        return Some(Err(format!(
            "result of partition {index}: {len} bytes are not a whole number of {width}-byte elements"
        )));
    }
    let mut out: Vec<T> = Vec::with_capacity(total / width);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spare = out.spare_capacity_mut();
    // SAFETY: MaybeUninit<T> has T's layout; the spare capacity holds
    // `total / width` elements, so `total` bytes.
    let dst = unsafe {
        std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<MaybeUninit<u8>>(), total)
    };
    copy_pieces(blobs, dst, threads);
    // SAFETY: copy_pieces wrote every byte of the first `total` (the blobs
    // laid end to end); every bit pattern is a valid plain number.
    unsafe { out.set_len(total / width) };
    Some(Ok(out))
}

/// Copies `pieces` end to end into `dst` (exactly their length), `dst`
/// cut into `threads` even slices copied at once.
fn copy_pieces(pieces: &[impl AsRef<[u8]> + Sync], dst: &mut [MaybeUninit<u8>], threads: usize) {
    let share = dst.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        for (index, slice) in dst.chunks_mut(share).enumerate() {
            let start = index * share;
            scope.spawn(move || copy_window(pieces, start, slice));
        }
    });
}

/// Fills `slice` with the bytes `start..start + slice.len()` of the
/// pieces laid end to end.
fn copy_window(pieces: &[impl AsRef<[u8]>], start: usize, slice: &mut [MaybeUninit<u8>]) {
    let end = start + slice.len();
    let mut at = 0;
    for piece in pieces {
        let piece = piece.as_ref();
        let (from, to) = (at.max(start), (at + piece.len()).min(end));
        if from < to {
            let src = &piece[from - at..to - at];
            // SAFETY: MaybeUninit<u8> has u8's layout; writing initialises.
            let dst = &mut slice[from - start..to - start];
            unsafe {
                std::ptr::copy_nonoverlapping(
                    src.as_ptr(),
                    dst.as_mut_ptr().cast::<u8>(),
                    src.len(),
                )
            };
        }
        at += piece.len();
        if at >= end {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_on_any_thread_count_copy_the_pieces_end_to_end() {
        let pieces: Vec<Vec<u8>> = (0..7u8).map(|i| vec![i; usize::from(i) * 5]).collect();
        let want: Vec<u8> = pieces.concat();
        for threads in 1..=9 {
            let mut dst = vec![MaybeUninit::new(0xAAu8); want.len()];
            copy_pieces(&pieces, &mut dst, threads);
            // SAFETY: initialised above.
            let got: Vec<u8> = dst.iter().map(|b| unsafe { b.assume_init() }).collect();
            assert_eq!(got, want, "{threads} threads");
        }
    }

    #[test]
    fn large_plain_blobs_concatenate_and_others_decline() {
        let a: Vec<u64> = (0..(PARALLEL_FROM as u64 / 8)).collect();
        let b: Vec<u64> = (7..1000).collect();
        let bytes = |v: &[u64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let got = concat_plain::<u64>(&[bytes(&a), Vec::new(), bytes(&b)])
            .unwrap()
            .unwrap();
        assert_eq!(got, [a.clone(), b.clone()].concat());
        assert!(concat_plain::<u64>(&[bytes(&b)]).is_none(), "small");
        assert!(concat_plain::<String>(&[vec![0u8; PARALLEL_FROM]]).is_none());
        let mut odd = bytes(&a);
        odd.push(1);
        let err = concat_plain::<u64>(&[bytes(&a), odd]).unwrap().unwrap_err();
        assert!(err.contains("partition 1"), "{err}");
    }
}
