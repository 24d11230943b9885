#!/usr/bin/env bash
# The nemesis, as one command: builds `shoal` and the harness, then runs a
# real cluster under faults chosen from a seed (see tests/chaos/src/main.rs
# and the README's "Chaos testing"). As root, each worker gets a network
# namespace (so its link can be cut); --no-netns runs without root.
#
#     tests/chaos/run.sh                          # 3 minutes, the fixed CI seed
#     tests/chaos/run.sh --minutes 30 --seed random   # a soak
#     tests/chaos/run.sh --seed S --jobs N        # replay a failure's schedule
#
# Env: CHAOS_PROFILE=release builds optimised binaries (default: debug, as
# the rest of the test suite; the job sizes are chosen for it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# ip lives in sbin, which a non-login environment may leave off PATH.
PATH=$PATH:/usr/sbin:/sbin
profile=${CHAOS_PROFILE:-debug}
flags=()
[ "$profile" = debug ] || flags=(--profile "$profile")
# Both binaries by name: `--bin` applies to every package selected.
cargo build --quiet "${flags[@]}" -p shoal-cli -p shoal-chaos --bin shoal --bin shoal-chaos
dir=${CARGO_TARGET_DIR:-target}/$profile
exec "$dir/shoal-chaos" --shoal "$dir/shoal" "$@"
