//! The in-memory sort of a map task's records by key, stably.
//!
//! Shuffled keys usually repeat a lot — words, user ids, URLs — and a
//! comparison sort then spends most of its time comparing equal keys
//! (`memcmp` on every one of them). So equal keys are first grouped with
//! a hash map, in push order, and only the distinct keys are sorted; a
//! counting pass gives every record its place and the records are moved
//! there in one pass into a second buffer (the external sort accounts a
//! whole record of scratch per record for that). When most keys are
//! distinct, grouping saves nothing and the plain stable sort runs
//! instead.
//!
//! The order is exactly the stable sort's: by key bytes, equal keys in
//! push order.

use std::collections::HashMap;

use crate::record::Record;

/// Grouping is abandoned when more than this share of the records seen
/// have distinct keys (1/DISTINCT_SHARE): it would save little, and its
/// tables (per key) would grow large.
const DISTINCT_SHARE: usize = 2;
/// How often (in records) the share of distinct keys is judged: often
/// enough to bound the tables, seldom enough that the first records of a
/// skewed distribution (many keys seen once so far) do not decide.
const SAMPLE: usize = 1 << 16;

/// Sorts `records` by key bytes, equal keys keeping their order.
pub(crate) fn sort_records(records: &mut Vec<Record>) {
    match group_ids(records) {
        Some((group_of, firsts)) => place_by_group(records, group_of, &firsts),
        None => records.sort_by(Record::cmp_keys),
    }
}

/// Each record's group (records of one key share one, numbered in order
/// of first appearance) and each group's first record; `None` when keys
/// hardly repeat.
fn group_ids(records: &[Record]) -> Option<(Vec<u32>, Vec<u32>)> {
    if records.len() > u32::MAX as usize {
        return None;
    }
    let mut groups: HashMap<&[u8], u32, ahash::RandomState> = HashMap::default();
    let mut group_of = Vec::with_capacity(records.len());
    let mut firsts: Vec<u32> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let next = firsts.len() as u32;
        let group = *groups.entry(record.key()).or_insert_with(|| {
            firsts.push(i as u32);
            next
        });
        group_of.push(group);
        let seen = i + 1;
        let judged = seen % SAMPLE == 0 || seen == records.len();
        if judged && firsts.len() * DISTINCT_SHARE > seen {
            return None;
        }
    }
    Some((group_of, firsts))
}

/// Moves every record to its place: groups in key order, records of a
/// group in their order.
fn place_by_group(records: &mut Vec<Record>, mut group_of: Vec<u32>, firsts: &[u32]) {
    // Distinct keys: an unstable sort is enough.
    let mut by_key: Vec<u32> = (0..firsts.len() as u32).collect();
    by_key.sort_unstable_by(|&a, &b| {
        let key = |g: u32| records[firsts[g as usize] as usize].key();
        key(a).cmp(key(b))
    });
    // Where each group starts in the output.
    let mut sizes = vec![0u32; firsts.len()];
    for &group in &group_of {
        sizes[group as usize] += 1;
    }
    let mut start = vec![0u32; firsts.len()];
    let mut at = 0u32;
    for &group in &by_key {
        start[group as usize] = at;
        at += sizes[group as usize];
    }
    // Each record's destination, in place of its group.
    for slot in group_of.iter_mut() {
        let group = *slot as usize;
        *slot = start[group];
        start[group] += 1;
    }
    // Read in order, write each record home: the writes of a frequent key
    // go one after the other (following a permutation's cycles instead
    // would jump about the whole buffer for every record).
    let mut placed: Vec<Option<Record>> = Vec::with_capacity(records.len());
    placed.resize_with(records.len(), || None);
    for (record, &home) in records.drain(..).zip(&group_of) {
        placed[home as usize] = Some(record);
    }
    *records = placed
        .into_iter()
        .map(|r| r.expect("each record has its own place"))
        .collect();
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::KeySpec;

    fn records(lines: &[&str]) -> Vec<Record> {
        let spec = KeySpec::default();
        lines
            .iter()
            .map(|l| spec.record(Bytes::copy_from_slice(l.as_bytes())))
            .collect()
    }

    fn lines(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(r.line()).into_owned())
            .collect()
    }

    /// Pseudo-random lines `kK\tI` with keys drawn from `distinct` values.
    fn sample(n: usize, distinct: u64) -> Vec<String> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("k{}\t{i}", x % distinct)
            })
            .collect()
    }

    #[test]
    fn gives_the_stable_sorts_order_whether_keys_repeat_or_not() {
        for (n, distinct) in [
            (0, 1),
            (1, 1),
            (10_000, 7),
            (10_000, 5_000),
            (10_000, 1 << 40),
        ] {
            let text = sample(n, distinct);
            let text: Vec<&str> = text.iter().map(String::as_str).collect();
            let mut ours = records(&text);
            sort_records(&mut ours);
            let mut reference = records(&text);
            reference.sort_by(Record::cmp_keys);
            assert_eq!(
                lines(&ours),
                lines(&reference),
                "{n} records, {distinct} keys"
            );
        }
    }

    #[test]
    fn groups_when_keys_repeat_and_not_when_they_are_distinct() {
        let repeated = sample(10_000, 50);
        let refs: Vec<&str> = repeated.iter().map(String::as_str).collect();
        assert!(group_ids(&records(&refs)).is_some());
        // Skewed, as words are: a quarter of the records spread over many
        // keys, from the first records on.
        let skewed: Vec<String> = sample(150_000, 1 << 40)
            .iter()
            .zip(sample(150_000, 10))
            .enumerate()
            .map(|(i, (wide, narrow))| if i % 4 == 0 { wide.clone() } else { narrow })
            .collect();
        let refs: Vec<&str> = skewed.iter().map(String::as_str).collect();
        let mut ours = records(&refs);
        assert!(group_ids(&ours).is_some());
        sort_records(&mut ours);
        let mut reference = records(&refs);
        reference.sort_by(Record::cmp_keys);
        assert_eq!(lines(&ours), lines(&reference));
        let distinct = sample(10_000, 1 << 40);
        let refs: Vec<&str> = distinct.iter().map(String::as_str).collect();
        assert!(group_ids(&records(&refs)).is_none());
    }

    #[test]
    fn keys_that_are_prefixes_of_others_sort_first() {
        let mut ours = records(&["ab\t1", "a\t2", "abc\t3", "a\t4", "\t5", "ab\t6"]);
        sort_records(&mut ours);
        assert_eq!(
            lines(&ours),
            ["\t5", "a\t2", "a\t4", "ab\t1", "ab\t6", "abc\t3"]
        );
    }
}
