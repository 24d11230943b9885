#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# Installs what the tests need when it is missing (redis-server from apt,
# DuckDB in a private virtualenv for the analytics cross-check), then runs
# formatting and lint checks and every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

need_apt() {
    # $1: a command that must exist, $2: the Debian package providing it.
    command -v "$1" >/dev/null 2>&1 && return 0
    say "installing $2 (needed by the tests)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

need_apt redis-server redis-server

say "cargo fmt --check"
cargo fmt --all --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --features shoal-coord/test-support -- -D warnings

say "cargo test"
cargo test --workspace --features shoal-coord/test-support

say "analytics cross-check against DuckDB (SQL written from the report definitions)"
./tests/crosscheck/run.sh
