//! Generator determinism and realism.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use shoal_events::{generate, GenFormat, GenOptions, ReadOptions};

fn opts(seed: u64, files: u32) -> GenOptions {
    GenOptions {
        events: 30_000,
        users: 1_000,
        days: 14,
        seed,
        files,
        format: GenFormat::Csv,
    }
}

fn bytes_of(dir: &std::path::Path, o: &GenOptions) -> Vec<Vec<u8>> {
    let summary = generate(dir, o).unwrap();
    assert_eq!(summary.events, o.events);
    summary
        .files
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

#[test]
fn same_options_same_bytes_different_seed_different_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = bytes_of(a.path(), &opts(5, 4));
    assert_eq!(first, bytes_of(b.path(), &opts(5, 4)));
    assert_ne!(first, bytes_of(b.path(), &opts(6, 4)));
    // Rerunning into the same directory with fewer files removes the rest.
    generate(a.path(), &opts(5, 2)).unwrap();
    assert_eq!(std::fs::read_dir(a.path()).unwrap().count(), 2);
    for format in [GenFormat::Jsonl, GenFormat::Parquet] {
        let o = GenOptions {
            format,
            ..opts(5, 3)
        };
        let x = bytes_of(a.path(), &o);
        assert_eq!(x, bytes_of(b.path(), &o), "{format:?}");
    }
}

#[test]
fn rows_are_time_ordered_and_look_like_shopping() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), &opts(1, 3)).unwrap();
    let ro = ReadOptions::default();
    let mut all = Vec::new();
    for f in &summary.files {
        let r = read_path(f, &ro).unwrap();
        assert_eq!(r.rejected, 0);
        assert!(
            r.rows.windows(2).all(|w| w[0].1 <= w[1].1),
            "file is time-ordered"
        );
        all.extend(r.rows);
    }
    assert_eq!(all.len(), 30_000);
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &all {
        *by_type.entry(r.2.as_str()).or_default() += 1;
        assert!(r.0.starts_with('u') && r.0.len() == 7, "{}", r.0);
        assert_eq!(r.3.is_empty(), r.2 == "search");
    }
    let (view, cart, purchase, search) = (
        by_type["view"],
        by_type["cart"],
        by_type["purchase"],
        by_type["search"],
    );
    assert!(
        view > cart && cart > purchase && purchase > 0 && search > 0,
        "{by_type:?}"
    );
    // Skewed users: the busiest 10% of users make far more than 10% of events.
    let mut per_user: BTreeMap<&str, usize> = BTreeMap::new();
    let mut days: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for r in &all {
        *per_user.entry(r.0.as_str()).or_default() += 1;
        days.entry(r.0.as_str())
            .or_default()
            .insert(r.1.div_euclid(86_400_000));
    }
    let mut counts: Vec<usize> = per_user.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts.iter().take(counts.len() / 10).sum();
    assert!(
        top * 10 > all.len() * 3,
        "top 10% users have {top} of {}",
        all.len()
    );
    // Some users come back on later days.
    let returning = days.values().filter(|d| d.len() > 1).count();
    assert!(
        returning * 5 > days.len(),
        "{returning} of {} users return",
        days.len()
    );
    // Purchases follow a cart of the same item by the same user.
    let mut carted: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut sorted: Vec<&Row> = all.iter().collect();
    sorted.sort_by_key(|r| r.1);
    for r in sorted {
        match r.2.as_str() {
            "cart" => {
                carted.insert((&r.0, &r.3));
            }
            "purchase" => assert!(carted.contains(&(r.0.as_str(), r.3.as_str())), "{r:?}"),
            _ => {}
        }
    }
}

#[test]
fn zero_events_and_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let o = GenOptions {
        events: 0,
        ..opts(1, 2)
    };
    let s = generate(dir.path(), &o).unwrap();
    assert_eq!(s.files.len(), 2);
    let r = read_path(dir.path(), &ReadOptions::default()).unwrap();
    assert!(r.rows.is_empty());
    let bad = GenOptions {
        files: 0,
        ..opts(1, 1)
    };
    assert!(generate(dir.path(), &bad)
        .unwrap_err()
        .to_string()
        .contains("--files"));
    let bad = GenOptions {
        users: 0,
        ..opts(1, 1)
    };
    assert!(generate(dir.path(), &bad).is_err());
}

/// Per day of the data (UTC, day 0 = the first): (events, active users).
fn daily(rows: &[Row]) -> BTreeMap<i64, (u64, BTreeSet<&str>)> {
    let mut days: BTreeMap<i64, (u64, BTreeSet<&str>)> = BTreeMap::new();
    let first = rows
        .iter()
        .map(|r| r.1)
        .min()
        .unwrap_or(0)
        .div_euclid(86_400_000);
    for r in rows {
        let day = days.entry(r.1.div_euclid(86_400_000) - first).or_default();
        day.0 += 1;
        day.1.insert(r.0.as_str());
    }
    days
}

/// Real traffic has no day on which the few users still around make
/// dozens of times the events an active user makes on an ordinary day:
/// the generated period ends inside the requested days, and every day's
/// events per active user stay near the typical (median) day's.
#[test]
fn every_day_looks_like_traffic_up_to_the_last() {
    let dir = tempfile::tempdir().unwrap();
    // The demo's shape per file (6,250 users, 125,000 events): few enough
    // files that the heaviest users of a Pareto tail appear.
    let o = GenOptions {
        events: 500_000,
        users: 25_000,
        days: 30,
        seed: 1,
        files: 4,
        format: GenFormat::Csv,
    };
    generate(dir.path(), &o).unwrap();
    let rows = read_path(dir.path(), &ReadOptions::default()).unwrap().rows;
    let days = daily(&rows);
    let last = *days.keys().last().unwrap();
    let per_user: Vec<(i64, f64, usize)> = days
        .iter()
        .map(|(d, (events, users))| (*d, *events as f64 / users.len() as f64, users.len()))
        .collect();
    let mut ratios: Vec<f64> = per_user.iter().map(|x| x.1).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    eprintln!("median events per active user {median:.2}; days: {per_user:.2?}");
    assert!(
        last < i64::from(o.days),
        "data runs to day {last} of {}",
        o.days
    );
    for (day, ratio, users) in &per_user {
        assert!(
            *ratio <= 2.0 * median,
            "day {day}: {ratio:.1} events per active user ({users} active), median {median:.1}"
        );
    }
}
