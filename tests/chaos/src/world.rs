//! What lives for the whole run: the run's directory and timeline, the
//! network, the S3 server, the inputs and their embedded outputs.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use shoal_testkit::S3Server;

use crate::jobs::{Inputs, References, INPUT_BUCKET};
use crate::net::{self, Network};
use crate::procs;

/// The bucket holding the segments' stores on the S3 server.
pub const STORE_BUCKET: &str = "store";
/// Prefix of run directories under the temp dir.
const RUN_PREFIX: &str = "shoal-chaos.";

/// The run's lasting parts.
pub struct World {
    /// The seed.
    pub seed: u64,
    /// The `shoal` binary.
    pub shoal: PathBuf,
    /// The run's directory: logs, inputs, directory stores.
    pub dir: PathBuf,
    /// The mark every process of the run carries ([`procs::MARK`]).
    pub mark: String,
    /// Workers per cluster.
    pub workers: usize,
    /// Network namespaces, or loopback.
    pub net: Network,
    /// The S3 server (inputs, and the store of S3 segments).
    pub s3: S3Server,
    /// The input files.
    pub inputs: Inputs,
    /// Every job's embedded output.
    pub refs: References,
    /// The timeline written as the run goes.
    pub timeline: Timeline,
}

impl World {
    /// Sets the run up: its directory under the temp dir (named after the
    /// pid), the network, the S3 server, the inputs and references. Marks
    /// this process's environment first, so every child carries the mark.
    pub fn setup(seed: u64, shoal: PathBuf, workers: usize, netns: bool) -> Result<World> {
        let run = std::process::id();
        sweep_dead_runs();
        let dir = std::env::temp_dir().join(format!("{RUN_PREFIX}{run}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("owner"), run.to_string())?;
        let mark = run.to_string();
        // Single-threaded still: no other thread reads the environment.
        std::env::set_var(procs::MARK, &mark);
        let timeline = Timeline::create(&dir.join("timeline.log"))?;
        let net = if netns {
            Network::create(run, workers, &dir)?
        } else {
            Network::loopback()
        };
        timeline.say(&format!("network: servers on {}", net.host()));
        let s3 = S3Server::start_on(net.host());
        for bucket in [INPUT_BUCKET, STORE_BUCKET] {
            s3.create_bucket(bucket);
        }
        timeline.say("generating inputs and their embedded outputs");
        let inputs = Inputs::generate(&shoal, &dir.join("inputs"))?;
        inputs.copy_to_s3_root(s3.root())?;
        let refs = References::compute(&shoal, &inputs)?;
        Ok(World {
            seed,
            shoal,
            dir,
            mark,
            workers,
            net,
            s3,
            inputs,
            refs,
            timeline,
        })
    }

    /// The address servers listen on.
    pub fn host(&self) -> IpAddr {
        self.net.host()
    }

    /// Environment every node needs to reach the S3 server.
    pub fn s3_env(&self) -> Vec<(&'static str, String)> {
        self.s3.env()
    }
}

/// Where a run's directory is kept (logs of a failed run, or `--keep`):
/// a name the sweep of dead runs leaves alone.
pub fn kept_dir(dir: &Path) -> PathBuf {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    dir.with_file_name(name.replace(RUN_PREFIX, "shoal-chaos-logs."))
}

/// Tears down what runs that died before their teardown left: their
/// processes (found by their mark) and network namespaces.
fn sweep_dead_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name.strip_prefix(RUN_PREFIX) else {
            continue;
        };
        if run.parse::<u32>().is_err() || Path::new(&format!("/proc/{run}")).exists() {
            continue;
        }
        let killed = procs::kill_marked(run);
        net::remove_recorded(&entry.path());
        eprintln!("shoal-chaos: cleared the leftovers of dead run {run} ({killed} processes)");
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// The run's timeline: every step, fault and check with its time, to a
/// file and to stderr.
pub struct Timeline {
    started: Instant,
    file: Mutex<std::fs::File>,
}

impl Timeline {
    fn create(path: &Path) -> Result<Timeline> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Timeline {
            started: Instant::now(),
            file: Mutex::new(file),
        })
    }

    /// Writes one line, stamped with the time since the start.
    pub fn say(&self, line: &str) {
        let stamped = format!("[{:8.3}s] {line}", self.started.elapsed().as_secs_f64());
        eprintln!("{stamped}");
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(file, "{stamped}");
    }
}
