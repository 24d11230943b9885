//! The `shoal` executable: Shoal's command line with the built-in jobs.
//! A binary with jobs of its own is this same line with a bigger registry
//! (see the `shoal-cli` library and `examples/custom-job`).

fn main() -> std::process::ExitCode {
    shoal_cli::main(shoal_cli::builtin_registry())
}
