#!/usr/bin/env bash
# Cluster-mode benchmarks, side by side with peers on the same machine:
#   1. no-op task throughput with 2 local workers: this build's shoal, and
#      with SHOAL_BASELINE=PATH another build of it (say main before a
#      change) in the same run, round by round; Dask distributed (2
#      workers) and Ray (2 CPUs) for reference;
#   2. routing: a job only one binary has (bench-app's `bench-noop`, built
#      from crates/shoal-cli/examples/bench-app.rs) on that binary's 2
#      workers alone, then with 2 idle workers of each of two other binaries
#      registered on the same Redis (stock shoal, and the custom-job example
#      when the workspace has it, else SHOAL_BASELINE);
#   3. `shoal analyze` on EVENTS (default 10M) events: 2 local workers vs embedded.
# Task rates are TASKS / wall time of the whole `run` command (start,
# planning, the job, exit), the same for every binary.
# Usage: bench/cluster.sh [TASKS] [EVENTS]
# Env: SHOAL_BASELINE=PATH, RUNS (default 3), SKIP_PEERS=1, SKIP_ROUTING=1, SKIP_ANALYZE=1
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-200000}
EVENTS=${2:-10000000}
RUNS=${RUNS:-3}
OUT=bench/out/cluster
mkdir -p "$OUT"

cargo build --release -q -p shoal-cli --bin shoal --example bench-app
SHOAL=$PWD/target/release/shoal
APP=$PWD/target/release/examples/bench-app
BASELINE=${SHOAL_BASELINE:-}
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "SHOAL_BASELINE=$BASELINE is not an executable"; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/test.sh once or apt-get install redis-server"; exit 1; }
command -v jq >/dev/null || { echo "jq missing: run scripts/test.sh once or apt-get install jq"; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
WORKERS=()
cleanup() {
    for w in "${WORKERS[@]}"; do kill "$w" 2>/dev/null || true; done
    kill "$REDIS_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
URL=redis://127.0.0.1:$PORT
rcli() { redis-cli -p "$PORT" "$@"; }
for _ in $(seq 50); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done
STORE=$OUT/store
rm -rf "$STORE" "$OUT/peers.txt"

# start_workers BIN NAME...: one worker of BIN per name, registered on return.
start_workers() {
    local bin=$1 name
    shift
    for name in "$@"; do
        "$bin" worker --coord "$URL" --store "$STORE" --name "$name" 2>"$OUT/$name.log" &
        WORKERS+=($!)
    done
    for name in "$@"; do
        for _ in $(seq 100); do [ "$(rcli EXISTS "shoal:worker:$name")" = 1 ] && break; sleep 0.05; done
        [ "$(rcli EXISTS "shoal:worker:$name")" = 1 ] || { echo "worker $name did not register: $(tail -3 "$OUT/$name.log")"; exit 1; }
    done
}
# stop_workers: stops every worker started so far and clears Redis.
stop_workers() {
    local w
    for w in "${WORKERS[@]}"; do kill "$w" 2>/dev/null || true; done
    for w in "${WORKERS[@]}"; do wait "$w" 2>/dev/null || true; done
    WORKERS=()
    rcli FLUSHALL >/dev/null
}
# rate BIN JOB: runs JOB (TASKS no-op tasks) on the cluster; prints its task rate.
rate() {
    local start end
    start=$(date +%s.%N)
    "$1" run "$2" --params "{\"tasks\": $TASKS}" --coord "$URL" --store "$STORE" --quiet >/dev/null
    end=$(date +%s.%N)
    python3 -c "print(round($TASKS / ($end - $start)))"
}
# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "== no-op task throughput ($TASKS tasks, 2 workers, $RUNS rounds; load: $(uptime | sed 's/.*load/load/'))"
NEW=()
OLD=()
for round in $(seq "$RUNS"); do
    start_workers "$SHOAL" new-w1 new-w2
    NEW+=("$(rate "$SHOAL" noop)")
    stop_workers
    echo "shoal (this build) round $round: ${NEW[-1]} tasks/s"
    if [ -n "$BASELINE" ]; then
        start_workers "$BASELINE" old-w1 old-w2
        OLD+=("$(rate "$BASELINE" noop)")
        stop_workers
        echo "shoal (baseline)   round $round: ${OLD[-1]} tasks/s"
    fi
done
echo "shoal (this build): median $(median "${NEW[@]}") tasks/s"
if [ -n "$BASELINE" ]; then
    echo "shoal (baseline $BASELINE): median $(median "${OLD[@]}") tasks/s"
    echo "this build / baseline: $(ratio "$(median "${NEW[@]}")" "$(median "${OLD[@]}")")"
fi
# The embedded rate from --stats (this build only: the baseline may predate it).
"$SHOAL" run noop --params '{"tasks": 1000000}' --quiet --threads 2 --stats "$OUT/noop.json" >/dev/null
echo "shoal embedded (this build): $(jq -r '"\(.tasks) tasks in \(.wall_seconds * 1000 | round / 1000)s = \(.tasks / .wall_seconds | round) tasks/s"' "$OUT/noop.json")"

if [ -z "${SKIP_PEERS:-}" ]; then
    source tests/crosscheck/peers_env.sh
    if shoal_peers_python distributed ray; then
        "$PY" bench/peers_tasks.py 20000 | tee "$OUT/peers.txt" || true
    else
        echo "(peer install failed; continuing)"
    fi
fi
# Side by side: this build, the baseline and the peers, with ratios.
peer_rate() { { sed -n "s/^$1 .* = \([0-9,]*\) tasks\/s$/\1/p" "$OUT/peers.txt" 2>/dev/null || true; } | tr -d ,; }
SHOAL_RATE=$(median "${NEW[@]}")
echo "== no-op tasks/s side by side (load: $(uptime | sed 's/.*load/load/'))"
printf '%-22s %10s %s\n' "shoal (this build)" "$SHOAL_RATE" ""
[ -z "$BASELINE" ] || printf '%-22s %10s %s\n' "shoal (baseline)" "$(median "${OLD[@]}")" \
    "this build / baseline $(ratio "$SHOAL_RATE" "$(median "${OLD[@]}")")"
for peer in dask ray; do
    r=$(peer_rate "$peer")
    if [ -n "$r" ]; then printf '%-22s %10s %s\n' "$peer" "$r" "shoal / $peer $(ratio "$SHOAL_RATE" "$r")"; fi
done

if [ -z "${SKIP_ROUTING:-}" ]; then
    # The third binary: the custom-job example when the workspace has it.
    THIRD=""
    if cargo metadata --no-deps --format-version 1 | grep -q '"name":"shoal-example-custom-job"'; then
        # Only the example's own binary: its test fixtures (stock-shoal,
        # custom-job-v2) are two more release links the benchmark never runs.
        cargo build --release -q -p shoal-example-custom-job --bin custom-job
        THIRD=$PWD/target/release/custom-job
    elif [ -n "$BASELINE" ]; then
        THIRD=$BASELINE
    fi
    echo "== routing: bench-app's bench-noop ($TASKS tasks) on its 2 workers, alone and beside idle workers of other binaries"
    echo "   idle: 2 x $SHOAL${THIRD:+, 2 x $THIRD}"
    ALONE=()
    MIXED=()
    for round in $(seq "$RUNS"); do
        start_workers "$APP" app-w1 app-w2
        ALONE+=("$(rate "$APP" bench-noop)")
        stop_workers
        start_workers "$APP" app-w1 app-w2
        start_workers "$SHOAL" idle-shoal-1 idle-shoal-2
        [ -z "$THIRD" ] || start_workers "$THIRD" idle-third-1 idle-third-2
        MIXED+=("$(rate "$APP" bench-noop)")
        stop_workers
        echo "round $round: alone ${ALONE[-1]} tasks/s, beside idle workers ${MIXED[-1]} tasks/s"
    done
    echo "alone: median $(median "${ALONE[@]}") tasks/s; beside idle workers: median $(median "${MIXED[@]}") tasks/s"
    echo "beside / alone: $(ratio "$(median "${MIXED[@]}")" "$(median "${ALONE[@]}")") (routing must keep this >= 0.90)"
    echo "idle workers at their last stop: $(grep -h 'stopped' "$OUT"/idle-*.log | tr '\n' ' ')"
fi

if [ -z "${SKIP_ANALYZE:-}" ]; then
    start_workers "$SHOAL" bench-w1 bench-w2
    DATA=bench/data/events-$EVENTS
    [ -d "$DATA" ] || "$SHOAL" gen "$DATA" --events "$EVENTS" --format csv
    echo "== shoal analyze, $EVENTS events"
    /usr/bin/time -f "embedded: %e s wall, %M KB peak RSS" "$SHOAL" analyze "$DATA" --threads 2 --quiet --out "$OUT/embedded.json" >/dev/null
    /usr/bin/time -f "cluster (2 workers): %e s wall, %M KB peak RSS (driver)" \
        "$SHOAL" analyze "$DATA" --quiet --coord "$URL" --store "$STORE" --out "$OUT/cluster.json" >/dev/null
    cmp "$OUT/embedded.json" "$OUT/cluster.json" && echo "reports identical"
fi
