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
        let mut children = Vec::new();
        for i in 0..count {
            let name = format!("w{i}");
            let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
            let child = shoal_cmd(
                &[
                    "worker", "--coord", coord, "--store", store, "--slots", "2", "--name", &name,
                ],
                env,
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn shoal worker");
            children.push(child);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = shoal_cluster::cluster_status(coord, 10).expect("cluster status");
            if status.workers.len() == count {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "workers did not register: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
