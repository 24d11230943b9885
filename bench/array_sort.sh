#!/usr/bin/env bash
# Benchmark: sort N pseudo-random u64 in far less memory than they take —
# Shoal's array-sort (DistArray sample sort, spilling sorted runs to the
# work directory) against DuckDB sorting the same count of hashed numbers
# and writing them to Parquet, both with 2 threads, the same memory limit (1 GiB)
# and temporary files on the same disk. Prints wall time and peak RSS side
# by side, and checks Shoal's output: sorted, count N, and its checksum
# (wrapping sum) equal to the input's, computed independently with numpy.
#
#   bench/array_sort.sh                                  # n = 3e9 (22 GiB), 16 partitions
#   bench/array_sort.sh --n 300000000 --budget 256MiB    # a tenth, for a quick look
#   bench/array_sort.sh --work-dir /big/disk --no-peer
#
# Needs about 2.5 × 8 × N bytes free in the work directory (Shoal's spill
# files and DuckDB's temporary files and output); everything is removed
# afterwards. The same run through the CLI, once `shoal run` prints JSON
# summaries: shoal run array-sort --params '{"n": N, "partitions": 16}'
#   --memory-budget 1GiB --work-dir DIR --threads 2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
n=3000000000
partitions=16
budget=1GiB
threads=2
work=""
peer=1
while [ $# -gt 0 ]; do
    case $1 in
        --n) n=$2; shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --work-dir) work=$2; shift 2 ;;
        --no-peer) peer=0; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
source "$here/lib/measure.sh"
bytes=$(budget_bytes "$budget")

source "$root/tests/crosscheck/peers_env.sh"
shoal_peers_python
"$PY" -c "import numpy" 2>/dev/null || "$PY" -m pip install --quiet numpy
work=${work:-$root/bench/data/array-sort}
mkdir -p "$work"
trap 'rm -rf "$work"/duckdb-tmp "$work"/sorted.parquet' EXIT
need=$(( n * 8 * 5 / 2 / 1024 ))
free=$(df -k --output=avail "$work" | tail -1)
if [ "$free" -lt "$need" ]; then
    echo "need ~$((need >> 20)) GiB free in $work, have $((free >> 20)) GiB" >&2
    exit 2
fi

sorter=$(release_example shoal-array array_sort)

echo "sorting $n u64 ($(( n * 8 >> 30 )) GiB), $partitions partitions, budget $budget, $threads threads, work dir $work (load $(load))"
/usr/bin/time -v -o "$work/shoal.time" "$sorter" "$n" "$partitions" "$bytes" "$work" "$threads" > "$work/shoal.json"
read -r s_wall s_rss < <(wall_rss "$work/shoal.time")

# The input's checksum, independently: the same SplitMix64 in numpy.
want=$("$PY" - "$n" <<'PY'
import sys
import numpy as np
n = int(sys.argv[1])
def mix(z):
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
with np.errstate(over="ignore"):
    salt = mix(np.array([0], dtype=np.uint64))[0]
    total, step = 0, 50_000_000
    for start in range(0, n, step):
        i = np.arange(start, min(n, start + step), dtype=np.uint64)
        total = (total + int(mix(i ^ salt).sum(dtype=np.uint64))) % (1 << 64)
print(total)
PY
)
"$PY" - "$work/shoal.json" "$n" "$want" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
n, want = int(sys.argv[2]), int(sys.argv[3])
assert got["count"] == n, f"count {got['count']} != {n}"
assert got["sorted"], "output not sorted"
assert got["checksum"] == want, f"checksum {got['checksum']} != input's {want}"
print(f"shoal output verified: {n} values, sorted, checksum {want} equals the input's", file=sys.stderr)
PY

d_wall=- d_rss=-
if [ "$peer" = 1 ]; then
    mkdir -p "$work/duckdb-tmp"
    /usr/bin/time -v -o "$work/duckdb.time" "$PY" - "$n" "$work" "$threads" "${budget%iB}B" <<'PY'
import sys, duckdb
n, work, threads, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.execute(f"SET memory_limit='{limit}'")
con.execute(f"SET temp_directory='{work}/duckdb-tmp'")
con.execute("SET preserve_insertion_order=true")
con.execute(f"COPY (SELECT hash(i) AS x FROM range({n}) t(i) ORDER BY x) TO '{work}/sorted.parquet' (FORMAT parquet)")
PY
    read -r d_wall d_rss < <(wall_rss "$work/duckdb.time")
fi

printf '%-22s %12s %12s\n' "" "wall (s)" "peak RSS (MiB)"
printf '%-22s %12.1f %12.0f\n' "shoal array-sort" "$s_wall" "$s_rss"
if [ "$peer" = 1 ]; then
    printf '%-22s %12.1f %12.0f\n' "duckdb ORDER BY" "$d_wall" "$d_rss"
    awk -v a="$s_wall" -v b="$d_wall" 'BEGIN {printf "shoal / duckdb wall: %.2fx\n", a / b}'
fi
echo "(load $(load))"
