#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# Installs what the tests need when it is missing (redis-server, iproute2,
# jq and GlusterFS from apt, DuckDB in a private virtualenv for the
# analytics cross-check), then runs formatting and lint checks and every
# test in the workspace. The network-namespace tests (tests/netns) need root.
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
# The network-namespace tests (tests/netns): iproute2, jq, GlusterFS.
need_apt ip iproute2
need_apt jq jq
need_apt glusterd glusterfs-server
need_apt mount.glusterfs glusterfs-client

say "cargo fmt --check"
cargo fmt --all --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --features shoal-coord/test-support -- -D warnings

say "cargo check with TLS (rediss://), which the default build leaves out"
cargo check -p shoal-cli --features shoal-coord/tls

say "cargo test"
cargo test --workspace --features shoal-coord/test-support

say "analytics cross-check against DuckDB (SQL written from the report definitions)"
./tests/crosscheck/run.sh

say "cluster with each worker in its own network namespace, one cut off mid-job (needs root)"
./tests/netns/cluster.sh

say "GlusterFS volume in a network namespace: analyze and a cluster on its mounts (needs root)"
./tests/netns/gluster.sh
