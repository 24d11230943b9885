#!/usr/bin/env bash
# Benchmark: `shoal analyze` of the same events read from a local S3 server
# (s3s-fs on loopback, objects uploaded through PUT) and from local disk,
# side by side, for three data sets:
#
#   csv     `shoal gen` CSV, 8 files                  (target: S3 <= 1.5x local)
#   quoted  the same rows with every field quoted     (target: S3 <= 1.5x local)
#   parquet `shoal gen` Parquet, 8 files              (target: S3 <= 1.3x local)
#   plan    a 4.6 GB local CSV directory (32 files): the planning time the
#           job's statistics (--stats FILE) show, against the whole job
#           (target: planning <= 5%)
#
# Prints median wall times of N runs (local and S3 runs alternate, so a
# drifting load weighs on both alike) and their ratio, the median CPU time
# (user + system) of shoal for each, the CPU time s3s-fs spent per S3 run
# (it shares the machine's cores with Shoal), and what the server delivers
# on its own: every object of the set fetched by parallel plain GETs at
# once (curl) — the floor for any reader — and the server's CPU time for
# that; and the median seconds of the job's read stage (from --stats), the
# only part of the job the store can slow; and each set's CPU floor: the
# CPU seconds of shoal and s3s-fs in an S3 run spread over every core, the
# wall time no reader can beat on a machine the server shares (on 2 quiet
# cores s3s-fs's ~3.5 ms of CPU per MB alone adds about half of CSV's local
# time). Checks that the local and S3
# reports of every run pair are byte-identical. On a
# loaded machine wall times mostly measure waiting for a core; the CPU
# columns stay meaningful.
#
#   bench/s3.sh                              # 10M events, every set, 5 runs, 2 threads
#   bench/s3.sh --sets csv,parquet --runs 3 --events 2000000 --threads 2
#   bench/s3.sh --format csv                 # one set (same as --sets csv)
#
# Data is kept in bench/data (gitignored) and reused; the S3 server gets a
# fresh root under bench/data each run. Installs s3s-fs when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=5
threads=2
events=10000000
sets=csv,quoted,parquet,plan
# The planning set: 122M events, 32 files of ~146 MB (4.6 GB).
plan_events=122000000
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --events) events=$2; shift 2 ;;
        --sets | --format) sets=$2; shift 2 ;;
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

# dataset SET: prints the local directory of SET, generating it once.
dataset() {
    local set=$1 dir="$data/s3-$events-$1"
    [ "$set" = plan ] && dir="$data/plan-4.6g"
    if [ ! -f "$dir/.done" ]; then
        rm -rf "$dir"
        case $set in
            csv | parquet)
                echo "generating $events events ($set) into $dir" >&2
                "$shoal" gen "$dir" --events "$events" --format "$set" --files 8 --seed 1 >&2 ;;
            plan)
                echo "generating $plan_events events (csv, 32 files) into $dir" >&2
                "$shoal" gen "$dir" --events "$plan_events" --format csv --files 32 --seed 1 >&2 ;;
            quoted)
                local plain
                plain=$(dataset csv)
                echo "quoting every field of $plain into $dir" >&2
                mkdir -p "$dir"
                for f in "$plain"/*.csv; do
                    awk 'BEGIN { FS = ","; OFS = "," }
                         { for (i = 1; i <= NF; i++) $i = "\"" $i "\""; print }' \
                        "$f" > "$dir/$(basename "$f")"
                done ;;
            *) echo "unknown set $set (csv, quoted, parquet)" >&2; exit 2 ;;
        esac
        touch "$dir/.done"
    fi
    echo "$dir"
}

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

# server_cpu: CPU seconds (user + system) s3s-fs has used so far.
ticks=$(getconf CLK_TCK)
server_cpu() {
    awk -v t="$ticks" '{ print ($14 + $15) / t }' "/proc/$server/stat"
}

# get_all SET DIR: seconds for plain GETs of every object of SET, all at
# once, as the server alone delivers them.
get_all() {
    local set=$1 dir=$2 start end pids=()
    start=$(date +%s.%N)
    for f in "$dir"/*; do
        curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
            --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
            -o /dev/null "$AWS_ENDPOINT/bench/$set/$(basename "$f")" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || { echo "curl GET of s3://bench/$set failed" >&2; exit 1; }
    done
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN {print b - a}'
}

# run_once NAME CMD... : runs CMD once (stdout to $out/NAME.json, its wall
# time and CPU time to $out/NAME.time); a failing CMD ends the script.
run_once() {
    local name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$@" > "$out/$name.json"
}

# run_times NAME: the wall time, CPU time (user + system) and read-stage
# seconds (from its --stats file) of NAME's last run.
run_times() {
    echo "$(awk '{print $1, $2 + $3}' "$out/$1.time")" \
        "$(jq '[.stages[] | select(.name == "read") | .seconds] | add' "$out/$1.stats.json")"
}

# compare SET DIR: runs the local and the S3 analysis of SET $runs times
# each, alternating (local, s3, local, s3, ...) so that a machine whose
# load drifts weighs on both alike, and checks that every pair of reports
# is byte-identical; prints the median wall and CPU times of each side and
# the mean CPU time s3s-fs spent per S3 run.
compare() {
    local set=$1 dir=$2 wall cpu before served=0 local_run="s3bench.$1.local" s3_run="s3bench.$1.s3"
    local local_walls=() local_cpus=() local_reads=() s3_walls=() s3_cpus=() s3_reads=() read_s
    for _ in $(seq "$runs"); do
        run_once "$local_run" "$shoal" analyze "$dir" --json --quiet --threads "$threads" \
            --stats "$out/$local_run.stats.json"
        read -r wall cpu read_s < <(run_times "$local_run")
        local_walls+=("$wall"); local_cpus+=("$cpu"); local_reads+=("$read_s")
        before=$(server_cpu)
        run_once "$s3_run" "$shoal" analyze "s3://bench/$set/" --json --quiet --threads "$threads" \
            --stats "$out/$s3_run.stats.json"
        served=$(awk -v s="$served" -v a="$before" -v b="$(server_cpu)" 'BEGIN {print s + b - a}')
        read -r wall cpu read_s < <(run_times "$s3_run")
        s3_walls+=("$wall"); s3_cpus+=("$cpu"); s3_reads+=("$read_s")
        cmp -s "$out/$local_run.json" "$out/$s3_run.json" \
            || { echo "$set: reports differ: $out/$local_run.json vs $out/$s3_run.json" >&2; exit 1; }
    done
    echo "$(median "${local_walls[@]}") $(median "${local_cpus[@]}")" \
        "$(median "${s3_walls[@]}") $(median "${s3_cpus[@]}")" \
        "$(awk -v s="$served" -v n="$runs" 'BEGIN {print s / n}')" \
        "$(median "${local_reads[@]}") $(median "${s3_reads[@]}")"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# plan_share: runs the planning set once with --stats; prints planning
# seconds, job seconds and the planning share.
plan_share() {
    local dir stats="$out/s3bench.plan.stats.json"
    dir=$(dataset plan)
    "$shoal" analyze "$dir" --json --quiet --threads "$threads" --stats "$stats" > "$out/s3bench.plan.json"
    jq -r '"\(.planning_seconds) \(.wall_seconds)"' "$stats" |
        awk '{ printf "%.3f %.2f %.2f%%", $1, $2, 100 * $1 / $2 }'
}

rows=()
plan_row=""
for set in ${sets//,/ }; do
    if [ "$set" = plan ]; then
        plan_row=$(plan_share)
        continue
    fi
    dir=$(dataset "$set")
    "$target/examples/upload" "$dir" "s3://bench/$set"
    size=$(du -sm "$dir" | cut -f1)
    cpu_before=$(server_cpu)
    get_s=$(get_all "$set" "$dir")
    get_cpu=$(awk -v a="$cpu_before" -v b="$(server_cpu)" 'BEGIN {print b - a}')
    timed=$(compare "$set" "$dir")
    read -r local_s local_cpu s3_s s3_cpu served local_read s3_read <<< "$timed"
    goal=1.5
    [ "$set" = parquet ] && goal=1.3
    rows+=("$(awk -v s="$set" -v m="$size" -v l="$local_s" -v r="$s3_s" -v g="$goal" -v x="$get_s" \
        -v lc="$local_cpu" -v rc="$s3_cpu" -v c="$served" -v xc="$get_cpu" -v lr="$local_read" -v rr="$s3_read" \
        'BEGIN { printf "%-8s %6d %9.2f %9.2f %6.2f %6s %9.2f %9.2f %10.2f %9.2f %9.2f %7.2f %7.2f", s, m, l, r, r / l, "<=" g, lc, rc, c, x, xc, lr, rr }')")
done

echo
echo "shoal analyze, $events events per set (8 files), $threads threads, median of $runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %6s %9s %9s %6s %6s %9s %9s %10s %9s %9s %7s %7s\n' "set" "MB" "local s" "s3 s" "ratio" "target" \
    "cpu local" "cpu s3" "cpu s3s-fs" "GET all s" "(its cpu)" "read l" "read s3"
[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}" && echo "reports identical (local vs s3): yes"
# Shoal and the server share the machine's cores: an S3 run cannot beat
# their CPU seconds spread over every core, however well reads overlap.
cores=$(nproc)
for row in "${rows[@]}"; do
    read -r set _ local_s _ _ _ _ s3_cpu served _ <<< "$row"
    awk -v s="$set" -v l="$local_s" -v c="$s3_cpu" -v d="$served" -v n="$cores" \
        'BEGIN { f = (c + d) / n; printf "%s: CPU floor of an S3 run on %d cores = (cpu s3 + cpu s3s-fs) / %d = %.2f s, ratio %.2f (on a quiet machine)\n", s, n, n, f, f / l }'
done
if [ -n "$plan_row" ]; then
    read -r plan_s job_s share <<< "$plan_row"
    echo "planning a $(du -sh "$(dataset plan)" | cut -f1) local CSV directory: ${plan_s}s of a ${job_s}s job = $share (target <= 5%; from --stats)"
fi
