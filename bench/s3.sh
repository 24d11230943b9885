#!/usr/bin/env bash
# Benchmark: `shoal analyze` of 10M generated events in Parquet read from a
# local S3 server (s3s-fs on loopback) against the same files on local
# disk. Prints median wall times and the ratio (target: S3 at most 1.3x
# local), and checks both reports are byte-identical.
#
#   bench/s3.sh                    # 10M events, Parquet, 8 files, 2 threads
#   bench/s3.sh --runs 5 --threads 2 --events 10000000 --format parquet
#
# Data is kept in bench/data (gitignored) and reused; the S3 server gets a
# fresh root under bench/data each run. Installs s3s-fs when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=3
threads=2
events=10000000
format=parquet
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --events) events=$2; shift 2 ;;
        --format) format=$2; shift 2 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done

s3s_fs=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
if [ ! -x "$s3s_fs" ]; then
    echo "installing s3s-fs (a few minutes)" >&2
    cargo install s3s-fs --version 0.14.1 --features binary --locked >&2
fi

(cd "$root" && cargo build --quiet --release -p shoal-cli --bin shoal \
    && cargo build --quiet --release -p shoal-store --example upload)
target="${CARGO_TARGET_DIR:-$root/target}/release"
shoal="$target/shoal"
data="$root/bench/data"
out="$root/bench/out"
mkdir -p "$data" "$out"

dir="$data/s3-$events-$format"
if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    echo "generating $events events ($format) into $dir" >&2
    "$shoal" gen "$dir" --events "$events" --format "$format" --files 8 --seed 1 >&2
    touch "$dir/.done"
fi

# A fresh server on a free loopback port; its log names the port.
s3root="$data/s3-root"
rm -rf "$s3root"
mkdir -p "$s3root/bench"
log="$out/s3s-fs.log"
export AWS_ACCESS_KEY_ID=shoal-bench AWS_SECRET_ACCESS_KEY=shoal-bench-secret AWS_REGION=us-east-1
RUST_LOG=info NO_COLOR=1 "$s3s_fs" --host 127.0.0.1 --port 0 \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" "$s3root" > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*server is running at http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "s3s-fs did not start; log: $log" >&2; exit 1; }
export AWS_ENDPOINT="http://127.0.0.1:$port"
"$target/examples/upload" "$dir" s3://bench/events

# measure NAME CMD... : runs CMD $runs times (stdout to $out/NAME.json),
# prints the median wall time in seconds.
measure() {
    local name=$1; shift
    local walls=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s.%N)
        "$@" > "$out/$name.json"
        end=$(date +%s.%N)
        walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
    done
    printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

local_s=$(measure s3bench.local "$shoal" analyze "$dir" --json --quiet --threads "$threads")
s3_s=$(measure s3bench.s3 "$shoal" analyze s3://bench/events/ --json --quiet --threads "$threads")
cmp "$out/s3bench.local.json" "$out/s3bench.s3.json" \
    || { echo "reports differ: $out/s3bench.local.json vs $out/s3bench.s3.json" >&2; exit 1; }

echo
echo "shoal analyze, $events events ($format, 8 files), $threads threads, median of $runs"
printf '%-24s %10s\n' "input" "wall (s)"
printf '%-24s %10.2f\n' "local disk" "$local_s"
printf '%-24s %10.2f\n' "s3 (s3s-fs, loopback)" "$s3_s"
printf '%-24s %10.3f  (target <= 1.3)\n' "ratio s3 / local" "$(awk -v a="$s3_s" -v b="$local_s" 'BEGIN {print a / b}')"
echo "reports identical: yes"
