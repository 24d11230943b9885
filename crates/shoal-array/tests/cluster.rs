//! A DistArray job on a real cluster: a Redis server on a free loopback
//! port, a `Worker` with its own registry, and the cluster executor. The
//! worker rebuilds the plan from the job's name and parameters; the
//! answer must equal the embedded run's.

use std::sync::Arc;
use std::time::Duration;

use shoal_array::jobs::SortJob;
use shoal_array::{AsJob, Session};
use shoal_cluster::{ClusterConfig, ClusterExecutor, Worker, WorkerConfig};
use shoal_core::Registry;
use shoal_testkit::RedisServer;

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
        Registry::new().with(Arc::new(AsJob(SortJob))),
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
}
