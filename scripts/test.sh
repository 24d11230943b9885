#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# Installs what the tests need when it is missing (redis-server, openssl, iproute2,
# jq, GlusterFS, Chromium and prometheus (promtool) from apt, s3s-fs with cargo install, DuckDB in a private
# virtualenv for the analytics cross-check and the Parquet test), then runs formatting and lint checks and every
# test in the workspace, and 3 minutes of the chaos harness (tests/chaos). The
# network-namespace tests (tests/netns, tests/chaos) need root.
set -euo pipefail
cd "$(dirname "$0")/.."

# A full run builds every target once; the incremental cache would only double
# the disk it takes (CI's disk is not large).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

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

need_cargo_bin() {
    # $1: a binary that must exist; the rest: `cargo install` arguments.
    local bin=$1; shift
    command -v "$bin" >/dev/null 2>&1 && return 0
    [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$bin" ] && return 0
    say "installing $bin (needed by the tests; takes a few minutes once)"
    cargo install --locked "$@"
}

need_apt redis-server redis-server
# Certificates for the TLS tests (a private CA, made at test time).
need_apt openssl openssl
# The network-namespace tests (tests/netns): iproute2, jq, GlusterFS.
need_apt ip iproute2
need_apt jq jq
# A pseudo-terminal for the "no binary output on a terminal" test.
need_apt script bsdutils
need_apt glusterd glusterfs-server
need_apt mount.glusterfs glusterfs-client
# The dashboard tests: a real browser (headless Chromium) looks at `shoal ui`,
# and promtool (Debian's prometheus package) checks every /metrics endpoint.
need_apt chromium chromium
need_apt promtool prometheus
# A real S3 server for the object-store tests. 0.14.1 is the last release
# building with rustc 1.95 (later ones need 1.96).
need_cargo_bin s3s-fs s3s-fs --version 0.14.1 --features binary

say "cargo fmt --check"
cargo fmt --all --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "cargo clippy with TLS (rediss://), which the default build leaves out"
cargo clippy -p shoal-coord -p shoal-cli --all-targets \
    --features shoal-cli/tls,shoal-coord/tls -- -D warnings

say "cargo check: optional storage backends (gs://, az://, hdfs:// — no servers here)"
cargo check -p shoal-store --features gcp,azure,hdfs

say "cargo test"
cargo test --workspace

say "TLS: rediss:// with a private CA, client certificates and an ACL user (real redis-server)"
cargo test -p shoal-coord -p shoal-cli --features shoal-cli/tls,shoal-coord/tls --test tls

say "analytics cross-check against DuckDB (SQL written from the report definitions)"
./tests/crosscheck/run.sh

say "cluster with each worker in its own network namespace, one cut off mid-job (needs root)"
./tests/netns/cluster.sh

say "GlusterFS volume in a network namespace: analyze and a cluster on its mounts (needs root)"
./tests/netns/gluster.sh

# Last, so every other result is in: about 3 minutes of jobs and a bank
# workload under faults, on a fixed seed (CI must not depend on a schedule
# it has not seen before; a soak is `tests/chaos/run.sh --minutes 30 --seed random`).
say "the nemesis: a cluster and a bank under seeded faults, 3 minutes (needs root)"
./tests/chaos/run.sh --minutes 3
