//! Helpers shared by the `shoal` end-to-end tests that run processes.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// A `shoal` command with `env` set.
pub fn shoal_cmd(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(SHOAL);
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Spawns one `shoal worker` named `name` with 2 slots on `coord` and
/// `store`, plus `extra` flags and `env`; its stderr goes to `log`.
pub fn spawn_worker(
    coord: &str,
    store: &str,
    name: &str,
    extra: &[&str],
    env: &[(&str, String)],
    log: &Path,
) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut args = vec![
        "worker", "--coord", coord, "--store", store, "--slots", "2", "--name", name,
    ];
    args.extend_from_slice(extra);
    shoal_cmd(&args, env)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn shoal worker")
}

/// Polls `shoal status` on `coord` until `condition` holds, panicking with
/// the last status after 30 s.
pub fn wait_for_status(
    coord: &str,
    condition: impl Fn(&shoal_cluster::ClusterStatus) -> bool,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = shoal_cluster::cluster_status(coord, 10).expect("cluster status");
        if condition(&status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `shoal worker` processes, killed on drop; each logs to `dir/NAME.log`.
pub struct Workers {
    pub children: Vec<Child>,
}

impl Workers {
    /// Starts `count` workers on `coord` and `store` with `env`, and waits
    /// until all have registered.
    pub fn start(
        coord: &str,
        store: &str,
        count: usize,
        env: &[(&str, String)],
        dir: &Path,
    ) -> Workers {
        let children = (0..count)
            .map(|i| {
                let name = format!("w{i}");
                let log = dir.join(format!("{name}.log"));
                spawn_worker(coord, store, &name, &[], env, &log)
            })
            .collect();
        wait_for_status(coord, |s| s.workers.len() == count, "workers to register");
        Workers { children }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
