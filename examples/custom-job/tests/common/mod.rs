//! What the cluster tests share: the binaries, running them, and the
//! inputs they are run on.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// This example's binary.
pub const CUSTOM_JOB: &str = env!("CARGO_BIN_EXE_custom-job");
/// The stock `shoal` binary (built-in jobs only; see its source).
pub const STOCK_SHOAL: &str = env!("CARGO_BIN_EXE_stock-shoal");
/// Another build of this example: `column-stats` at version 2.
pub const CUSTOM_JOB_V2: &str = env!("CARGO_BIN_EXE_custom-job-v2");

/// Heartbeat TTL of the workers and worker timeout of the drivers.
pub const TIMEOUT: &str = "2s";

/// Runs `binary` with `args` to the end.
pub fn run<S: AsRef<OsStr>>(binary: &str, args: &[S]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"))
}

/// The stdout of a run that must have succeeded.
pub fn succeeded(out: Output) -> Vec<u8> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    out.stdout
}

/// `args` followed by the flags that run them as a driver on the cluster
/// at `coord` and `store`.
pub fn on_cluster(args: &[&str], coord: &str, store: &str) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(
        [
            "--coord",
            coord,
            "--store",
            store,
            "--worker-timeout",
            TIMEOUT,
        ]
        .map(String::from),
    );
    all
}

/// Six CSV files of sales in `dir/sales`: keys east/west/north/…,
/// integer and float amounts, and a few bad values (60 per file).
pub fn sales(dir: &Path) -> String {
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

/// How many tasks `column-stats` over [`sales`] runs with
/// [`column_stats_params`]: one scan per file, one combine per partition.
pub const COLUMN_STATS_TASKS: u64 = 6 + 5;

/// `column-stats` over `input`: amounts per region, 5 partitions.
pub fn column_stats_params(input: &str) -> String {
    format!(r#"{{"inputs": ["{input}"], "key": "region", "value": "amount", "partitions": 5}}"#)
}
