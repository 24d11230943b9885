//! `custom-job` on clusters of real processes on loopback: a redis-server,
//! a shared store directory and `worker`s of three binaries — this
//! example, the stock `shoal` (`stock-shoal`) and another build of the
//! example whose `column-stats` is version 2 (`custom-job-v2`). Every wait
//! polls a real condition under a deadline.

use std::path::Path;
use std::process::{Command, Output};

use shoal::Session;
use shoal_testkit::LocalCluster;

const CUSTOM_JOB: &str = env!("CARGO_BIN_EXE_custom-job");

/// Heartbeat TTL of the workers and worker timeout of the drivers.
const TIMEOUT: &str = "2s";

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("run the binary")
}

/// `args` run on `cluster` (as a driver with `--coord`/`--store`).
fn on_cluster(cluster: &LocalCluster, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--coord", cluster.coord()].map(String::from));
    all.extend(["--store".to_string(), cluster.store()]);
    all.extend(["--worker-timeout", TIMEOUT].map(String::from));
    all
}

fn succeeded(out: Output) -> Vec<u8> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    out.stdout
}

/// Six CSV files of sales: keys east/west/north/…, integer and float
/// amounts, and a few bad values.
fn sales(dir: &Path) -> String {
    let input = dir.join("sales");
    std::fs::create_dir_all(&input).unwrap();
    let regions = ["east", "west", "north", "south", "école", "n,orth"];
    for f in 0..6 {
        let mut text = String::from("region,amount\n");
        for i in 0..3000usize {
            let region = regions[(i * 7 + f) % regions.len()];
            let amount = match i % 50 {
                0 => "n/a".to_string(),
                1..=9 => format!("{}.25", i % 13),
                _ => format!("{}", (i * 31 + f) % 1000),
            };
            let region = if region.contains(',') {
                format!("\"{region}\"")
            } else {
                region.into()
            };
            text.push_str(&format!("{region},{amount}\n"));
        }
        std::fs::write(input.join(format!("part-{f}.csv")), text).unwrap();
    }
    input.to_string_lossy().into_owned()
}

fn column_stats_params(input: &str) -> String {
    format!(r#"{{"inputs": ["{input}"], "key": "region", "value": "amount", "partitions": 5}}"#)
}

#[test]
fn both_jobs_give_the_same_bytes_embedded_and_on_two_custom_job_workers() {
    let cluster = LocalCluster::start(CUSTOM_JOB, 2, &["--heartbeat-ttl", TIMEOUT]);
    let input = sales(cluster.dir());
    let params = column_stats_params(&input);
    let args = ["run", "column-stats", "--params", &params, "--quiet"];
    let embedded = run(CUSTOM_JOB, &args);
    let clustered = run(
        CUSTOM_JOB,
        &on_cluster(&cluster, &args)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
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
            on_cluster(&cluster, &args)
        } else {
            args.iter().map(|a| a.to_string()).collect()
        };
        let stdout = succeeded(run(
            CUSTOM_JOB,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
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
