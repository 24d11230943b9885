//! `custom-job` on a cluster of its own workers as real processes on
//! loopback: a redis-server, a shared store directory and two `custom-job
//! worker`s. Every wait polls a real condition under a deadline. (Workers
//! of other binaries beside these: `routing.rs`.)

use std::path::Path;

use shoal::Session;
use shoal_testkit::LocalCluster;

mod common;
use common::{column_stats_params, on_cluster, run, sales, succeeded, CUSTOM_JOB, TIMEOUT};

/// `args` run on `cluster` (as a driver with `--coord`/`--store`).
fn driver_args(cluster: &LocalCluster, args: &[&str]) -> Vec<String> {
    on_cluster(args, cluster.coord(), &cluster.store())
}

#[test]
fn both_jobs_give_the_same_bytes_embedded_and_on_two_custom_job_workers() {
    let cluster = LocalCluster::start(CUSTOM_JOB, 2, &["--heartbeat-ttl", TIMEOUT]);
    let input = sales(cluster.dir());
    let params = column_stats_params(&input);
    let args = ["run", "column-stats", "--params", &params, "--quiet"];
    let embedded = run(CUSTOM_JOB, &args);
    let clustered = run(CUSTOM_JOB, &driver_args(&cluster, &args));
    assert_eq!(embedded.stderr, clustered.stderr, "rejected rows differ");
    let embedded = succeeded(embedded);
    assert_eq!(succeeded(clustered), embedded);
    let stats: shoal::serde_json::Value = shoal::serde_json::from_slice(&embedded).unwrap();
    assert_eq!(stats["rejected"], 6 * 60, "{stats}");
    assert_eq!(stats["keys"].as_object().unwrap().len(), 6, "{stats}");

    // distinct-keys saves into the shared store; both copies load back equal.
    let mut results = Vec::new();
    for (name, cluster_args) in [("embedded", false), ("cluster", true)] {
        let out = Path::new(&cluster.store()).join(format!("keys-{name}"));
        let out = out.to_string_lossy().into_owned();
        let params = format!(r#"{{"inputs": ["{input}"], "column": "region", "out": "{out}"}}"#);
        let args = ["run", "distinct-keys", "--params", &params, "--quiet"];
        let args: Vec<String> = if cluster_args {
            driver_args(&cluster, &args)
        } else {
            args.iter().map(|a| a.to_string()).collect()
        };
        let stdout = succeeded(run(CUSTOM_JOB, &args));
        let keys = Session::embedded()
            .load::<String>(&out)
            .unwrap()
            .collect()
            .unwrap();
        results.push((stdout, keys));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0, b"{\"count\":6}\n");
    assert_eq!(
        results[0].1,
        ["east", "n,orth", "north", "south", "west", "école"]
    );
}
