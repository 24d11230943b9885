//! Property tests: every DistArray operation equals the same computation
//! on a plain `Vec`, for random inputs, 1 to 64 partitions (empty ones
//! included) and 1 to 4 threads.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{config, partitions, plain, threads};
use proptest::prelude::*;

fn flat<T: Clone>(parts: &[Vec<T>]) -> Vec<T> {
    parts.concat()
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn narrow_transformations_fuse_and_match_vec(
        parts in partitions(any::<i32>(), 20), t in threads()
    ) {
        let s = plain(t);
        let a = s.from_partitions(parts.clone());
        let v = flat(&parts);
        let got = a.map(|x| i64::from(x) * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| vec![x, -x])
            .map_partitions(|mut p| { p.reverse(); p })
            .collect_partitions()
            .unwrap();
        let want: Vec<Vec<i64>> = parts.iter().map(|p| {
            let mut out: Vec<i64> = p.iter().map(|&x| i64::from(x) * 3)
                .filter(|x| x % 2 == 0).flat_map(|x| vec![x, -x]).collect();
            out.reverse();
            out
        }).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(a.collect().unwrap(), v.clone());
        prop_assert_eq!(a.len().unwrap(), v.len() as u64);
        // In-memory sources share their vector with the tasks (no copy).
        let shared = s.from_vec(v.clone(), parts.len() as u32);
        prop_assert_eq!(shared.filter(|x| x % 3 == 0).collect().unwrap(),
            v.iter().filter(|x| *x % 3 == 0).copied().collect::<Vec<_>>());
        prop_assert_eq!(shared.map_partitions(|p| p).collect().unwrap(), v.clone());
        let cut = shared.slice(1..v.len() as u64 / 2).unwrap().collect().unwrap();
        prop_assert_eq!(cut, v.iter().skip(1).take((v.len() / 2).saturating_sub(1)).copied().collect::<Vec<_>>());
        prop_assert_eq!(a.filter(|x| *x > 0).count().unwrap(),
            v.iter().filter(|x| **x > 0).count() as u64);
    }

    #[test]
    fn get_every_index_slice_and_take(
        parts in partitions(any::<u16>(), 12), t in threads(), a in 0u64..200, b in 0u64..200
    ) {
        let s = plain(t);
        let arr = s.from_partitions(parts.clone()).map(|x| (x, x.to_string()));
        let v: Vec<(u16, String)> = flat(&parts).into_iter().map(|x| (x, x.to_string())).collect();
        for (i, want) in v.iter().enumerate() {
            prop_assert_eq!(&arr.get(i as u64).unwrap(), want);
        }
        let out_of_bounds = arr.get(v.len() as u64).is_err();
        prop_assert!(out_of_bounds);
        let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
        let want: Vec<_> = v.iter().skip(lo).take(hi.saturating_sub(lo)).cloned().collect();
        let sliced = arr.slice(lo as u64..hi as u64).unwrap();
        prop_assert_eq!(sliced.len().unwrap(), want.len() as u64);
        prop_assert_eq!(sliced.collect().unwrap(), want);
        prop_assert_eq!(arr.take(a).unwrap(), v.iter().take(a as usize).cloned().collect::<Vec<_>>());
    }

    #[test]
    fn aggregates_match_vec(parts in partitions(-1000i64..1000, 20), t in threads()) {
        let s = plain(t);
        let arr = s.from_partitions(parts.clone());
        let v = flat(&parts);
        prop_assert_eq!(arr.sum().unwrap(), v.iter().sum::<i64>());
        prop_assert_eq!(arr.min().unwrap(), v.iter().min().copied());
        prop_assert_eq!(arr.max().unwrap(), v.iter().max().copied());
        prop_assert_eq!(arr.count().unwrap(), v.len() as u64);
        let mean = arr.mean().unwrap();
        let want = (!v.is_empty()).then(|| v.iter().sum::<i64>() as f64 / v.len() as f64);
        prop_assert_eq!(mean.map(|m| (m * 1e6).round()), want.map(|m| (m * 1e6).round()));
        prop_assert_eq!(arr.reduce(|a, b| *a.max(b)).unwrap(), v.iter().copied().reduce(i64::max));
        let concat = arr.map(|x| x.to_string()).reduce(|a, b| format!("{a},{b}")).unwrap();
        prop_assert_eq!(concat, v.iter().map(|x| x.to_string()).reduce(|a, b| format!("{a},{b}")));
        prop_assert_eq!(arr.fold(0u64, |n, x| n + (x > 0) as u64, |a, b| a + b).unwrap(),
            v.iter().filter(|x| **x > 0).count() as u64);
        let hist = arr.histogram(7, -500.0, 500.0).unwrap();
        let mut want = vec![0u64; 7];
        for &x in &v {
            if (-500..=500).contains(&x) {
                let bin = (((x as f64 + 500.0) / (1000.0 / 7.0)) as usize).min(6);
                want[bin] += 1;
            }
        }
        prop_assert_eq!(hist, want);
        let mut sorted = v.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        sorted.truncate(5);
        prop_assert_eq!(arr.top_k(5).unwrap(), sorted);
    }

    #[test]
    fn sort_is_ordered_and_stable(parts in partitions((0u8..8, any::<u32>()), 30), t in threads()) {
        let s = plain(t);
        let arr = s.from_partitions(parts.clone());
        let v = flat(&parts);
        let mut want = v.clone();
        want.sort_by_key(|x| x.0);
        let sorted = arr.sort_by_key(|x| x.0);
        prop_assert_eq!(sorted.partitions(), arr.partitions());
        prop_assert_eq!(sorted.collect().unwrap(), want);
        let mut plain_sort = v.iter().map(|x| x.1).collect::<Vec<_>>();
        plain_sort.sort();
        prop_assert_eq!(arr.map(|x| x.1).sort().collect().unwrap(), plain_sort.clone());
        let desc = arr.map(|x| x.1).sort_by(|a, b| b.cmp(a)).collect().unwrap();
        plain_sort.reverse();
        prop_assert_eq!(desc, plain_sort);
    }

    #[test]
    fn both_sort_plans_give_the_same_partitions(
        parts in partitions((0u8..8, any::<u32>()), 30), t in threads()
    ) {
        let s = plain(t);
        // A vector source is routed and sorted once; a computed input (a
        // map) is sorted where it is and cut by the readers. The samples,
        // and so the partitions, are the same.
        let arr = s.from_partitions(parts.clone());
        let computed = arr.map(|x| x);
        prop_assert_eq!(
            arr.sort_by_key(|x| x.0).collect_partitions().unwrap(),
            computed.sort_by_key(|x| x.0).collect_partitions().unwrap()
        );
        let values = s.from_partitions(parts.iter().map(|p| p.iter().map(|x| x.1).collect()).collect());
        prop_assert_eq!(
            values.sort().collect_partitions().unwrap(),
            values.map(|x| x).sort().collect_partitions().unwrap()
        );
    }

    #[test]
    fn keyed_operations_match_vec(
        parts in partitions((0u8..16, 0u32..100), 20), t in threads()
    ) {
        let s = plain(t);
        let arr = s.from_partitions(parts.clone());
        let v = flat(&parts);
        let mut sums: BTreeMap<u8, u64> = BTreeMap::new();
        let mut groups: BTreeMap<u8, Vec<u32>> = BTreeMap::new();
        for &(k, x) in &v {
            *sums.entry(k).or_default() += u64::from(x);
            groups.entry(k).or_default().push(x);
        }
        let mut got = arr.map(|(k, x)| (k, u64::from(x))).reduce_by_key(|a, b| a + b).collect().unwrap();
        got.sort();
        prop_assert_eq!(got, sums.into_iter().collect::<Vec<_>>());
        // Groups keep input order: compare without sorting the values.
        let mut got = arr.group_by_key().collect().unwrap();
        got.sort_by_key(|g| g.0);
        prop_assert_eq!(got, groups.into_iter().collect::<Vec<_>>());
        let mut got = arr.map(|(k, _)| k).distinct().collect().unwrap();
        got.sort();
        prop_assert_eq!(got, v.iter().map(|x| x.0).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn joins_match_nested_loops(
        left in partitions((0u8..12, any::<u16>()), 10),
        right in partitions((0u8..12, any::<i8>()), 10),
        t in threads()
    ) {
        let s = plain(t);
        let (l, r) = (s.from_partitions(left.clone()), s.from_partitions(right.clone()));
        let (lv, rv) = (flat(&left), flat(&right));
        let mut inner = Vec::new();
        let mut outer = Vec::new();
        for &(k, a) in &lv {
            let matches: Vec<i8> = rv.iter().filter(|x| x.0 == k).map(|x| x.1).collect();
            if matches.is_empty() { outer.push((k, (a, None))); }
            for &b in &matches {
                inner.push((k, (a, b)));
                outer.push((k, (a, Some(b))));
            }
        }
        // Per key, left rows keep input order and matches keep right order.
        let by_key = |mut rows: Vec<(u8, (u16, Option<i8>))>| { rows.sort_by_key(|r| r.0); rows };
        let got = by_key(l.left_join(&r).collect().unwrap());
        prop_assert_eq!(got, by_key(outer));
        let mut got = l.join(&r).collect().unwrap();
        got.sort_by_key(|r| r.0);
        inner.sort_by_key(|r| r.0);
        prop_assert_eq!(got, inner);
    }

    #[test]
    fn repartition_and_zip_keep_order(
        parts in partitions(any::<u32>(), 20), t in threads(), p in 1u32..=64
    ) {
        let s = plain(t);
        let arr = s.from_partitions(parts.clone());
        let v = flat(&parts);
        let re = arr.repartition(p).unwrap();
        let got = re.collect_partitions().unwrap();
        prop_assert_eq!(got.len(), p as usize);
        let (min, max) = (got.iter().map(Vec::len).min().unwrap(), got.iter().map(Vec::len).max().unwrap());
        prop_assert!(max - min <= 1);
        prop_assert_eq!(got.concat(), v.clone());
        let other = s.from_vec(v.iter().map(|x| u64::from(*x) + 1).collect(), p);
        let zipped = arr.zip(&other).unwrap().collect().unwrap();
        let want: Vec<(u32, u64)> = v.iter().map(|&x| (x, u64::from(x) + 1)).collect();
        prop_assert_eq!(zipped, want);
        let shorter = s.from_vec(vec![1u8; v.len() + 1], p);
        let mismatch = arr.zip(&shorter).is_err();
        prop_assert!(mismatch);
    }
}
