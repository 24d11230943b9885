//! A DistArray job on a real cluster: a Redis server on a free loopback
//! port, a `Worker` with its own registry, and the cluster executor. The
//! worker rebuilds the plan from the job's name and parameters; the
//! answer must equal the embedded run's.

use std::sync::Arc;
use std::time::Duration;

use shoal_array::jobs::SortJob;
use shoal_array::parquet::ParquetManifest;
use shoal_array::{Action, ArrayError, ArrayJob, AsJob, Session};
use shoal_cluster::{ClusterConfig, ClusterExecutor, Worker, WorkerConfig};
use shoal_core::Registry;
use shoal_testkit::RedisServer;

/// Reads column `x` of the Parquet files at `input`, doubles it and saves
/// it as Parquet at `output`: a source and a sink planned on every node.
struct ParquetDouble;

impl ArrayJob for ParquetDouble {
    type Output = ParquetManifest;

    fn name(&self) -> &'static str {
        "parquet-double"
    }

    fn describe(&self) -> &'static str {
        "doubles column x of Parquet files (params: input, output)"
    }

    fn build(
        &self,
        session: &Session,
        params: &serde_json::Value,
    ) -> Result<Action<ParquetManifest>, ArrayError> {
        let url = |key: &str| params[key].as_str().unwrap_or_default().to_string();
        session
            .parquet::<u64>(&url("input"), &["x"])?
            .map(|x| x * 2)
            .save_parquet_action(&url("output"), &["x"])
    }
}

#[test]
fn array_sort_job_runs_on_a_worker_and_matches_embedded() {
    let redis = RedisServer::start();
    let coord = redis.url();
    let store = tempfile::tempdir().unwrap();
    let store_url = store.path().to_string_lossy().into_owned();
    let worker = Worker::new(
        WorkerConfig {
            coord_url: coord.clone(),
            store_url: store_url.clone(),
            name: "array-test-worker".into(),
            slots: 2,
            heartbeat_ttl: Duration::from_secs(5),
        },
        Registry::new()
            .with(Arc::new(AsJob(SortJob)))
            .with(Arc::new(AsJob(ParquetDouble))),
    )
    .unwrap();
    let stop = worker.stop_flag();
    let worker = std::thread::spawn(move || worker.run());

    let executor = ClusterExecutor::new(ClusterConfig::new(&coord, &store_url)).unwrap();
    let cluster = Session::remote(Arc::new(executor), &store_url);
    let params = serde_json::json!({"n": 20_000, "partitions": 5, "seed": 9});
    let on_cluster = cluster.run_job(&SortJob, params.clone());
    // Workers write the part files to the shared store; the driver the manifest.
    let saved_url = store.path().join("sorted").to_string_lossy().into_owned();
    let mut save_params = params.clone();
    save_params["output"] = serde_json::json!(saved_url);
    let saved = cluster.run_job(&SortJob, save_params);
    // Parquet in and out on the worker; the driver writes the manifest.
    let input = store.path().join("numbers").to_string_lossy().into_owned();
    let doubled_url = store.path().join("doubled").to_string_lossy().into_owned();
    Session::embedded()
        .from_vec((0..3_000u64).collect(), 4)
        .save_parquet(&input, &["x"])
        .unwrap();
    let doubled = cluster.run_job(
        &ParquetDouble,
        serde_json::json!({"input": input, "output": doubled_url}),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    worker.join().unwrap().unwrap();

    let on_cluster = on_cluster.unwrap();
    let embedded = Session::embedded().run_job(&SortJob, params).unwrap();
    assert_eq!(on_cluster, embedded);
    assert!(
        on_cluster.sorted && on_cluster.count == 20_000,
        "{on_cluster:?}"
    );
    assert_eq!(saved.unwrap(), on_cluster);
    let loaded = Session::embedded().load::<u64>(&saved_url).unwrap();
    let values = loaded.collect().unwrap();
    assert_eq!(values.len(), 20_000);
    assert!(values.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(values.first().copied(), Some(on_cluster.first));
    let checksum = values.iter().fold(0u64, |a, &x| a.wrapping_add(x));
    assert_eq!(checksum, on_cluster.checksum);

    let doubled = doubled.unwrap();
    assert_eq!(doubled.rows, vec![750; 4]);
    let back = Session::embedded()
        .parquet::<u64>(&doubled_url, &["x"])
        .unwrap();
    let want: Vec<u64> = (0..3_000u64).map(|x| x * 2).collect();
    assert_eq!(back.collect().unwrap(), want);
}
