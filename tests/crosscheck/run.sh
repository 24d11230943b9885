#!/usr/bin/env bash
# Cross-checks `shoal analyze` against DuckDB (issue 3): the same report
# computed from SQL written from the definitions, on generated data, every
# field compared (floats to 1e-9 relative). One command:
#     tests/crosscheck/run.sh
# Env: SHOAL_BIN (default: builds the debug binary), CARGO_TARGET_DIR,
# SHOAL_PEERS_VENV (the peers' virtualenv, default .venv-peers in the repo;
# created, with duckdb, when missing),
# EVENTS (default 300000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/peers_env.sh"
shoal_peers_python

if [ -z "${SHOAL_BIN:-}" ]; then
    (cd "$root" && cargo build --quiet -p shoal-cli --bin shoal)
    SHOAL_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/shoal"
fi
events=${EVENTS:-300000}
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-crosscheck.XXXXXX")
trap 'rm -rf "$work"' EXIT

check() { # name, data dir, glob, shoal flags..., -- duckdb flags...
    local name=$1 dir=$2 glob=$3
    shift 3
    local shoal_flags=() duck_flags=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do shoal_flags+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    duck_flags=("$@")
    "$SHOAL_BIN" analyze "$dir" --json --quiet --threads 2 "${shoal_flags[@]}" > "$work/$name.shoal.json"
    # shellcheck disable=SC2086
    "$PY" "$here/duckdb_report.py" --threads 2 "${duck_flags[@]}" $dir/$glob > "$work/$name.duckdb.json"
    echo -n "$name: "
    "$PY" "$here/compare.py" "$work/$name.shoal.json" "$work/$name.duckdb.json"
}

"$SHOAL_BIN" gen "$work/csv" --events "$events" --days 21 --seed 7 --files 4 --format csv > /dev/null
"$SHOAL_BIN" gen "$work/pq" --events "$events" --days 21 --seed 11 --files 3 --format parquet > /dev/null
"$SHOAL_BIN" gen "$work/jsonl" --events $((events / 3)) --days 9 --seed 5 --files 2 --format jsonl > /dev/null

check csv-defaults "$work/csv" '*.csv'
check parquet-defaults "$work/pq" '*.parquet'
check jsonl-defaults "$work/jsonl" '*.jsonl'
check csv-custom "$work/csv" '*.csv' \
    --session-gap 7m --funnel view,purchase --funnel-window 90m --retention-days 10 --top 25 -- \
    --session-gap-ms 420000 --funnel view,purchase --funnel-window-ms 5400000 --retention-days 10 --top 25
check csv-repeated-steps "$work/csv" '*.csv' \
    --session-gap 1s --funnel view,view,cart,view --funnel-window 45s --retention-days 0 --top 3 -- \
    --session-gap-ms 1000 --funnel view,view,cart,view --funnel-window-ms 45000 --retention-days 0 --top 3
echo "cross-check: all reports agree with DuckDB"
