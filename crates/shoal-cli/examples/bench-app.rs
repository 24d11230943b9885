//! A user's binary in miniature, for `bench/cluster.sh`: Shoal's command
//! line over the built-in jobs plus one of its own, `bench-noop` (the
//! `noop` job under another name). Its `bench-noop` tasks go to a task
//! stream only its own workers read, so the benchmark can measure a job
//! while workers of other binaries (stock `shoal`, say) sit idle beside
//! them on the same Redis.

use std::process::ExitCode;
use std::sync::Arc;

use shoal_core::{Job, JobError, Plan};

/// `noop` under another name: same parameters, same plan.
struct BenchNoop;

impl Job for BenchNoop {
    fn name(&self) -> &'static str {
        "bench-noop"
    }

    fn describe(&self) -> &'static str {
        "noop, registered only in this binary (routing benchmark)"
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        shoal_jobs::Noop.plan(params)
    }
}

fn main() -> ExitCode {
    shoal_cli::main(shoal_cli::builtin_registry().with(Arc::new(BenchNoop)))
}
