//! Reading a file as one split or many gives the same rows and the same
//! rejection line numbers, wherever the quoted newlines fall.

mod common;

use common::*;
use proptest::prelude::*;
use shoal_events::{ReadOptions, SplitRange};

/// One CSV row of a random kind; returns its text.
fn row_text(kind: u8, n: usize) -> String {
    match kind % 8 {
        0 => format!("u{n},{n},view,\"it\nem,{n}\"\n"),
        1 => format!("\"u\"\"{n}\",{n},cart,x\r\n"),
        2 => format!("u{n},bad,view,x\n"),
        3 => format!(",{n},view,x\n"),
        4 => format!("u{n},{n},view\n"),
        5 => "\n".to_string(),
        _ => format!("u{n},{n},view,item-{n}\n"),
    }
}

fn check(kinds: &[u8], targets: &[u64]) {
    let mut text = String::from("user_id,ts,event,item\n");
    for (n, k) in kinds.iter().enumerate() {
        text.push_str(&row_text(*k, n));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.csv", text.as_bytes());
    let opts = ReadOptions::default();
    let whole = read_all(&plan(&[&path], &opts, u64::MAX).unwrap(), &opts).unwrap();
    for &target in targets {
        let splits = plan(&[&path], &opts, target).unwrap();
        // Contiguous byte ranges covering the data.
        let mut at = None;
        for s in &splits {
            let SplitRange::Bytes { start, end, .. } = s.range else {
                panic!("not a byte split")
            };
            if let Some(prev) = at {
                assert_eq!(prev, start);
            }
            at = Some(end);
        }
        assert_eq!(at, Some(text.len() as u64));
        let mut many = Read::default();
        for s in &splits {
            let part = read_all(std::slice::from_ref(s), &opts).unwrap();
            many.rows.extend(part.rows);
            many.rejected += part.rejected;
            many.rejects.extend(part.rejects);
        }
        many.rejects.truncate(10);
        assert_eq!(many, whole, "target {target}, {} splits", splits.len());
    }
}

#[test]
fn quoted_newlines_across_many_split_sizes() {
    let kinds: Vec<u8> = (0..200u32).map(|i| (i * 7 % 11) as u8).collect();
    check(&kinds, &[1, 7, 50, 333, 4096]);
}

#[test]
fn small_targets_make_many_splits() {
    let kinds = vec![6u8; 500];
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("user_id,ts,event,item\n");
    for n in 0..500 {
        text.push_str(&row_text(6, n));
    }
    let path = write(dir.path(), "m.csv", text.as_bytes());
    let splits = plan(&[&path], &ReadOptions::default(), 1000).unwrap();
    assert!(splits.len() > 10, "{}", splits.len());
    check(&kinds, &[1000]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn one_split_equals_many(kinds in proptest::collection::vec(0u8..8, 0..120), target in 1u64..400) {
        check(&kinds, &[target]);
    }
}
