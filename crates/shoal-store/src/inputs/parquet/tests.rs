//! Remote row-group reading: bounded read-ahead and the first row group
//! fetched with the footer.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, BinaryArray, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;
use crate::Store;

/// A Parquet file of `groups` row groups of `rows` rows each: an `id`
/// column counting from 0 and a `blob` column of `blob` incompressible
/// bytes per row.
fn parquet_file(groups: usize, rows: usize, blob: usize) -> Bytes {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("blob", DataType::Binary, false),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
    let mut noise = 0x9e37_79b9_7f4a_7c15u64;
    for g in 0..groups {
        let ids = Int64Array::from_iter_values((0..rows).map(|r| (g * rows + r) as i64));
        let blobs: Vec<Vec<u8>> = (0..rows)
            .map(|_| {
                (0..blob)
                    .map(|_| {
                        noise ^= noise << 13;
                        noise ^= noise >> 7;
                        noise ^= noise << 17;
                        noise as u8
                    })
                    .collect()
            })
            .collect();
        let blobs = BinaryArray::from_iter_values(blobs.iter());
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(blobs)]).unwrap();
        writer.write(&batch).unwrap();
        writer.flush().unwrap();
    }
    writer.close().unwrap();
    Bytes::from(out)
}

/// `data` as an object of a fresh memory store, as an input file.
fn remote(name: &str, data: Bytes) -> InputFile {
    let root = format!("memory://parquet-{name}-{}", std::process::id());
    Store::open(&root).unwrap().put("f.parquet", data).unwrap();
    InputFile::of(Path::new(&format!("{root}/f.parquet"))).unwrap()
}

/// Every `id` the batches of `groups` hold, in order.
fn ids(input: &ParquetInput, roots: &[usize], groups: Range<usize>) -> Vec<i64> {
    let mut out = Vec::new();
    for batch in input.batches(roots, groups, 1000).unwrap() {
        let batch = batch.unwrap();
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        out.extend(col.values().iter().copied());
    }
    out
}

/// The row groups in flight right after `batches` started.
fn in_flight(input: &ParquetInput, roots: &[usize], groups: Range<usize>) -> (usize, u64) {
    let batches = input.batches(roots, groups, 1000).unwrap();
    let State::Remote(remote) = &batches.state else {
        panic!("not a remote reader");
    };
    (
        remote.ahead.len(),
        remote.ahead.iter().map(|f| f.bytes).sum(),
    )
}

#[test]
fn room_for_starts_the_next_group_always_and_more_within_bounds() {
    assert!(
        room_for(0, 0, AHEAD_BYTES * 10),
        "the next group, however large"
    );
    assert!(room_for(1, 1 << 20, 1 << 20));
    assert!(!room_for(1, AHEAD_BYTES, 1), "over the byte bound");
    assert!(!room_for(1, AHEAD_BYTES - 1, 2));
    assert!(room_for(1, AHEAD_BYTES - 2, 2), "exactly at the byte bound");
    assert!(!room_for(MAX_GROUPS_AHEAD, 0, 0), "over the group bound");
    assert!(room_for(MAX_GROUPS_AHEAD - 1, 0, 0));
}

#[test]
fn small_row_groups_are_fetched_several_ahead_up_to_the_group_bound() {
    let input = ParquetInput::open(&remote("small", parquet_file(10, 100, 8))).unwrap();
    assert_eq!(in_flight(&input, &[0, 1], 0..10).0, MAX_GROUPS_AHEAD);
    assert_eq!(
        in_flight(&input, &[0], 8..10).0,
        2,
        "only the split's groups"
    );
    assert_eq!(ids(&input, &[0, 1], 0..10), (0..1000).collect::<Vec<_>>());
    assert_eq!(ids(&input, &[0], 3..7), (300..700).collect::<Vec<_>>());
}

#[test]
fn large_row_groups_in_flight_stay_within_the_byte_bound() {
    // Row groups of ~3 MiB: two fit the bound, a third does not.
    let group = 3 << 20;
    let input = ParquetInput::open(&remote("large", parquet_file(5, 3, group / 3))).unwrap();
    let (groups, bytes) = in_flight(&input, &[0, 1], 0..5);
    assert_eq!(groups, 2);
    assert!(bytes <= AHEAD_BYTES, "{bytes} bytes in flight");
    // Projected to the small column, all five fit.
    assert_eq!(in_flight(&input, &[0], 0..5).0, MAX_GROUPS_AHEAD);
    assert_eq!(ids(&input, &[0, 1], 0..5), (0..15).collect::<Vec<_>>());
}

#[test]
fn a_first_group_known_from_planning_is_fetched_with_the_footer() {
    let file = remote("early", parquet_file(4, 50, 16));
    let planned = ParquetInput::open(&file).unwrap();
    let first = FirstGroup {
        group: 2,
        chunks: planned.column_chunks(&[0, 1], 2),
    };
    assert_eq!(first.chunks.len(), 2, "one chunk per projected column");
    let input = ParquetInput::open_fetching(&file, Some(first.clone())).unwrap();
    assert!(
        input.early.lock().unwrap().is_some(),
        "fetch started at open"
    );
    assert_eq!(ids(&input, &[0, 1], 2..4), (100..200).collect::<Vec<_>>());
    assert!(input.early.lock().unwrap().is_none(), "taken by the reader");

    // Chunks that are not the first group's (another projection, another
    // group, a changed file) are dropped and the right ones fetched.
    for (roots, groups) in [(&[0][..], 2..4), (&[0, 1][..], 1..4)] {
        let input = ParquetInput::open_fetching(&file, Some(first.clone())).unwrap();
        let want: Vec<i64> = (groups.start as i64 * 50..200).collect();
        assert_eq!(ids(&input, roots, groups), want);
    }
    let stale = FirstGroup {
        group: 2,
        chunks: vec![0..4, 8..16],
    };
    let input = ParquetInput::open_fetching(&file, Some(stale)).unwrap();
    assert_eq!(ids(&input, &[0, 1], 2..4), (100..200).collect::<Vec<_>>());
}

#[test]
fn a_local_file_ignores_the_planned_first_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    std::fs::write(&path, parquet_file(3, 10, 4)).unwrap();
    let file = InputFile::of(&path).unwrap();
    let first = FirstGroup {
        group: 0,
        chunks: vec![0..4, 8..16],
    };
    let input = ParquetInput::open_fetching(&file, Some(first)).unwrap();
    assert!(input.early.lock().unwrap().is_none());
    assert_eq!(ids(&input, &[0], 0..3), (0..30).collect::<Vec<_>>());
}
