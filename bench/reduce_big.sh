#!/usr/bin/env bash
# Benchmark: reduce_by_key with far more state than the memory budget —
# N generated (key, 1) pairs over KEYS distinct keys (default 200M pairs,
# 100M keys) with --memory-budget 512MiB, 2 threads — against DuckDB
# counting the same number of groups with memory_limit 512MB. Prints wall
# time and peak RSS side by side; checks Shoal's total.
#
#   bench/reduce_big.sh [--n 200000000] [--keys 100000000] [--budget 512MiB] [--work-dir DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
n=200000000
keys=100000000
budget=512MiB
threads=2
partitions=16
work=""
while [ $# -gt 0 ]; do
    case $1 in
        --n) n=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --work-dir) work=$2; shift 2 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
source "$here/lib/measure.sh"
bytes=$(budget_bytes "$budget")
source "$root/tests/crosscheck/peers_env.sh"
shoal_peers_python
work=${work:-$root/bench/data/reduce-big}
mkdir -p "$work/duckdb-tmp"
trap 'rm -rf "$work/duckdb-tmp"' EXIT

reducer=$(release_example shoal-array reduce_big)
echo "reduce_by_key: $n pairs, $keys keys, budget $budget, $threads threads (load $(load))"
/usr/bin/time -v -o "$work/shoal.time" "$reducer" "$n" "$keys" "$partitions" "$bytes" "$work" "$threads" > "$work/shoal.json"
read -r s_wall s_rss < <(wall_rss "$work/shoal.time")
grep -q "\"total\": $n}" "$work/shoal.json" || { echo "wrong total: $(cat "$work/shoal.json")" >&2; exit 1; }
/usr/bin/time -v -o "$work/duckdb.time" "$PY" - "$n" "$keys" "$work" "$threads" "${budget%iB}B" <<'PY'
import sys, duckdb
n, keys, work, threads, limit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.execute(f"SET memory_limit='{limit}'")
con.execute(f"SET temp_directory='{work}/duckdb-tmp'")
groups = con.execute(
    f"SELECT count(*) FROM (SELECT hash(i) % {keys} AS k, count(*) FROM range({n}) t(i) GROUP BY k)"
).fetchone()[0]
print(groups)
PY
read -r d_wall d_rss < <(wall_rss "$work/duckdb.time")
printf '%-24s %10s %14s\n' "" "wall (s)" "peak RSS (MiB)"
printf '%-24s %10.1f %14.0f   %s\n' "shoal reduce_by_key" "$s_wall" "$s_rss" "$(cat "$work/shoal.json")"
printf '%-24s %10.1f %14.0f\n' "duckdb GROUP BY" "$d_wall" "$d_rss"
echo "(load $(load))"
