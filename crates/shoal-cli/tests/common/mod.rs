//! Helpers shared by the `shoal` end-to-end tests that run processes.
#![allow(dead_code)]

use std::process::Command;

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
