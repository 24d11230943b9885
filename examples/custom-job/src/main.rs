//! `custom-job`: Shoal's command line with two jobs of our own. Every
//! subcommand is there — `run`, `worker`, `status`, `jobs`, … — and a
//! `custom-job worker` runs our jobs (and the built-in ones) on a cluster.

use std::process::ExitCode;

fn main() -> ExitCode {
    shoal::main(shoal_example_custom_job::registry())
}
