//! Save/load round trips, spilling under a tiny memory budget, registered
//! array jobs rebuilt from name + parameters, file sources and errors.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{config, partitions, plain, session, threads};
use proptest::prelude::*;
use shoal_array::jobs::{SortJob, SortSummary};
use shoal_array::{Action, ArrayError, ArrayJob, AsJob, Session};
use shoal_core::{
    run_job, EmbeddedConfig, EmbeddedExecutor, JobSpec, NoProgress, ProgressEvent, ProgressSink,
    Registry,
};

/// Counts the bytes the executor reports as spilled.
#[derive(Default)]
struct SpillCounter {
    bytes: AtomicU64,
}

impl ProgressSink for SpillCounter {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Spilled { bytes, .. } = event {
            self.bytes.fetch_add(*bytes, Ordering::Relaxed);
        }
    }
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn save_load_round_trip(parts in partitions(any::<(u8, String)>(), 8), nums in partitions(any::<f64>(), 8), t in threads()) {
        let dir = tempfile::tempdir().unwrap();
        let s = plain(t);
        let url = dir.path().join("pairs").to_string_lossy().into_owned();
        let arr = s.from_partitions(parts.clone());
        let manifest = arr.save(&url).unwrap();
        prop_assert_eq!(manifest.lengths.len(), parts.len());
        prop_assert_eq!(manifest.codec.as_str(), "postcard");
        let back = s.load::<(u8, String)>(&url).unwrap();
        prop_assert_eq!(back.collect_partitions().unwrap(), parts.clone());
        let flat = parts.concat();
        for (i, want) in flat.iter().enumerate() {
            prop_assert_eq!(&back.get(i as u64).unwrap(), want);
        }
        let numbers = s.from_partitions(nums.clone()).persist("memory://round-trip-f64").unwrap();
        let got: Vec<u64> = numbers.collect().unwrap().iter().map(|x| x.to_bits()).collect();
        let want: Vec<u64> = nums.concat().iter().map(|x| x.to_bits()).collect();
        prop_assert_eq!(got, want);
        let wrong = s.load::<u64>(&url);
        let is_mismatch = matches!(wrong, Err(ArrayError::TypeMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    #[test]
    fn spilling_gives_the_same_results(parts in partitions((0u16..50, any::<u32>()), 40), t in threads(), p in 1u32..=16) {
        let dir = tempfile::tempdir().unwrap();
        let spilled = Arc::new(SpillCounter::default());
        let spill = session(t, 0, dir.path().to_str().unwrap()).with_progress(spilled.clone());
        let mem = plain(t);
        for s in [&spill, &mem] {
            let arr = s.from_partitions(parts.clone());
            let mut want = parts.concat();
            want.sort_by_key(|x| x.0);
            prop_assert_eq!(arr.sort_by_key(|x| x.0).collect().unwrap(), want);
        }
        let run = |s: &Session| {
            let arr = s.from_partitions(parts.clone());
            (
                arr.map(|(k, v)| (k, u64::from(v))).reduce_by_key(|a, b| a + b).collect().unwrap(),
                arr.repartition(p).unwrap().collect_partitions().unwrap(),
                arr.group_by_key().collect().unwrap(),
            )
        };
        prop_assert_eq!(run(&spill), run(&mem));
        let any_data = parts.iter().any(|p| !p.is_empty());
        prop_assert_eq!(spilled.bytes.load(Ordering::Relaxed) > 0, any_data);
    }
}

#[test]
fn sort_output_is_balanced() {
    let s = plain(2);
    let mut state = 7u64;
    let data: Vec<u64> = (0..200_000)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            state >> 11
        })
        .collect();
    // Skewed input partitions: balance must come from the weighted sample.
    let parts = vec![
        data[..150_000].to_vec(),
        data[150_000..190_000].to_vec(),
        Vec::new(),
        data[190_000..].to_vec(),
    ];
    let sorted = s.from_partitions(parts).sort().partition_lengths().unwrap();
    let avg = data.len() as f64 / sorted.len() as f64;
    let max = *sorted.iter().max().unwrap() as f64;
    assert!(max <= avg * 1.25, "partition sizes {sorted:?}");
}

/// Sums the squares of the even numbers below `n`, sorted descending top 3.
struct SquaresJob;

impl ArrayJob for SquaresJob {
    type Output = Vec<u64>;
    fn name(&self) -> &'static str {
        "test-squares"
    }
    fn describe(&self) -> &'static str {
        "top squares"
    }
    fn build(
        &self,
        session: &Session,
        params: &serde_json::Value,
    ) -> Result<Action<Vec<u64>>, ArrayError> {
        let n = params["n"].as_u64().unwrap_or(0);
        let parts = params["partitions"].as_u64().unwrap_or(1) as u32;
        Ok(session
            .range(n, parts)
            .filter(|x| x % 2 == 0)
            .map(|x| x * x)
            .sort_by(|a, b| b.cmp(a))
            .collect_action()
            .map(|mut top| {
                top.truncate(3);
                top
            }))
    }
}

#[test]
fn registered_jobs_rebuild_the_same_plan_from_name_and_params() {
    let params = serde_json::json!({"n": 1000, "partitions": 7});
    let s = plain(2);
    let direct = s.run_job(&SquaresJob, params.clone()).unwrap();
    assert_eq!(direct, vec![998 * 998, 996 * 996, 994 * 994]);
    // What a worker does: look the job up by name and plan from params.
    let registry = Registry::new().with(Arc::new(AsJob(SquaresJob)));
    let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
    let output = run_job(
        &executor,
        &registry,
        JobSpec::new("test-squares", params.clone()),
        &NoProgress,
    )
    .unwrap();
    // The driver finishes it through the Job trait: the answer as JSON.
    let finished: Vec<u64> = serde_json::from_slice(&output.result).unwrap();
    assert_eq!(finished, direct);
    assert_eq!(output.result.last(), Some(&b'\n'));
}

#[test]
fn a_registered_job_that_saves_writes_its_manifest_through_the_job_trait() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("sorted").to_string_lossy().into_owned();
    let registry = Registry::new().with(Arc::new(AsJob(SortJob)));
    let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
    let params = serde_json::json!({"n": 5000, "partitions": 4, "seed": 1});
    let mut save_params = params.clone();
    save_params["output"] = url.clone().into();
    let output = run_job(
        &executor,
        &registry,
        JobSpec::new("array-sort", save_params),
        &NoProgress,
    )
    .unwrap();
    let saved: SortSummary = serde_json::from_slice(&output.result).unwrap();
    let unsaved = plain(2).run_job(&SortJob, params).unwrap();
    assert_eq!(saved, unsaved);
    let loaded = plain(2).load::<u64>(&url).unwrap().collect().unwrap();
    assert_eq!(loaded.len(), 5000);
    assert!(loaded.windows(2).all(|w| w[0] <= w[1]));
    let checksum = loaded.iter().fold(0u64, |a, &x| a.wrapping_add(x));
    assert_eq!(checksum, saved.checksum);
}

#[test]
fn planning_and_remote_sessions_refuse_inline_actions() {
    let s = Session::planning();
    let err = s.range(10, 2).collect().unwrap_err();
    assert!(matches!(err, ArrayError::NotRunnable { .. }), "{err}");
    let remote = Session::remote(
        Arc::new(EmbeddedExecutor::new(EmbeddedConfig::default())),
        "memory://remote-test",
    );
    let err = remote.range(10, 2).sum().unwrap_err();
    assert!(matches!(err, ArrayError::NotRunnable { .. }), "{err}");
    // ...but registered jobs run on it.
    let params = serde_json::json!({"n": 10, "partitions": 3});
    assert_eq!(
        remote.run_job(&SquaresJob, params).unwrap(),
        vec![64, 36, 16]
    );
}

#[test]
fn text_lines_and_csv_sources() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("a.txt");
    let lines: Vec<String> = (0..500).map(|i| format!("line {i}")).collect();
    std::fs::write(&text, lines.join("\n")).unwrap();
    let s = plain(2);
    let arr = s
        .text_lines(&[text.to_string_lossy().into_owned()], 300)
        .unwrap();
    assert!(arr.partitions() > 5);
    assert_eq!(arr.collect().unwrap(), lines);

    let csv_dir = dir.path().join("csv");
    std::fs::create_dir(&csv_dir).unwrap();
    std::fs::write(csv_dir.join("1.csv"), "name,n\na,1\nb,2\n").unwrap();
    std::fs::write(csv_dir.join("2.csv"), "name,n\n\"c,d\",3\n").unwrap();
    let rows = s
        .csv::<(String, u32)>(&[csv_dir.to_string_lossy().into_owned()], true)
        .unwrap();
    assert_eq!(
        rows.collect().unwrap(),
        vec![("a".into(), 1), ("b".into(), 2), ("c,d".into(), 3)]
    );
    std::fs::write(csv_dir.join("3.csv"), "name,n\ne,notanumber\n").unwrap();
    let err = s
        .csv::<(String, u32)>(&[csv_dir.to_string_lossy().into_owned()], true)
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(err.is_user_input(), "{err}");
    assert!(err.to_string().contains("3.csv:2"), "{err}");
}

#[test]
fn a_csv_column_is_read_by_header_name_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.csv"), "n,name\n1,a\n2,\"b,c\"\n").unwrap();
    std::fs::write(dir.path().join("2.csv"), "name,n\nd,3\n").unwrap();
    let inputs = [dir.path().to_string_lossy().into_owned()];
    let s = plain(2);
    let names = s.csv_column(&inputs, "name").unwrap().collect().unwrap();
    assert_eq!(names, ["a", "b,c", "d"]);
    let missing = s
        .csv_column(&inputs, "nope")
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(missing.is_user_input(), "{missing}");
    assert!(
        missing.to_string().contains("1.csv: no column 'nope'"),
        "{missing}"
    );
    std::fs::write(dir.path().join("3.csv"), "name,n\ne\n").unwrap();
    let short = s
        .csv_column(&inputs, "name")
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(
        short.is_user_input() && short.to_string().contains("3.csv:2"),
        "{short}"
    );
}

#[test]
fn cache_materialises_once_and_errors_name_their_input() {
    let s = plain(2);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = counter.clone();
    let arr = s.range(100, 4).map(move |x| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        x * 2
    });
    let cached = arr.cache().unwrap();
    assert_eq!(cached.sum().unwrap(), 9900);
    assert_eq!(cached.get(42).unwrap(), 84);
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 100);
    let err = s.load::<u64>("memory://nothing-saved-here").unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    let err = s.range(3, 1).get(3).unwrap_err();
    assert!(matches!(
        err,
        ArrayError::IndexOutOfBounds { index: 3, len: 3 }
    ));
}

/// A saved array records its element type's declared tag, not Rust's
/// `type_name` (whose spelling is not promised); a type of one's own
/// declares its tag, and arrays saved before tags (version 1) still load.
#[test]
fn manifests_record_declared_type_tags_and_old_ones_still_load() {
    use shoal_array::TypeTag;

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Visit {
        user: String,
        ms: u64,
    }
    impl TypeTag for Visit {
        fn type_tag() -> String {
            "test.Visit/1".to_string()
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let s = plain(2);
    let url = dir.path().join("visits").to_string_lossy().into_owned();
    let visits = vec![
        Visit {
            user: "u1".into(),
            ms: 5,
        },
        Visit {
            user: "u2".into(),
            ms: 7,
        },
    ];
    let manifest = s.from_vec(visits.clone(), 2).save(&url).unwrap();
    assert_eq!(manifest.version, 2);
    assert_eq!(manifest.element_type, "test.Visit/1");
    assert_eq!(s.load::<Visit>(&url).unwrap().collect().unwrap(), visits);
    // Another type with the same encoding is still refused, by its tag.
    match s.load::<(String, u64)>(&url) {
        Err(ArrayError::TypeMismatch {
            expected, found, ..
        }) => {
            assert!(expected.contains("(string,u64)"), "{expected}");
            assert!(found.contains("test.Visit/1"), "{found}");
        }
        other => panic!("loaded another type: {:?}", other.map(|_| ())),
    }

    // A version 1 manifest, as written before tags: `type_name`.
    let numbers = dir.path().join("numbers").to_string_lossy().into_owned();
    s.from_vec(vec![3u64, 1, 2], 1).save(&numbers).unwrap();
    let path = dir.path().join("numbers/manifest.json");
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old["version"] = 1.into();
    old["element_type"] = std::any::type_name::<u64>().into();
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    assert_eq!(
        s.load::<u64>(&numbers).unwrap().collect().unwrap(),
        [3, 1, 2]
    );
    assert!(matches!(
        s.load::<i64>(&numbers),
        Err(ArrayError::TypeMismatch { .. })
    ));
}
