#!/usr/bin/env bash
# Cluster-mode benchmarks, side by side with peers on the same machine:
#   1. no-op task throughput: Shoal through Redis with 2 local workers vs
#      Dask distributed (2 workers) and Ray (2 CPUs);
#   2. `shoal analyze` on EVENTS (default 10M) events: 2 local workers vs embedded.
# Usage: bench/cluster.sh [TASKS] [EVENTS]     (set SKIP_PEERS=1 / SKIP_ANALYZE=1 to skip parts)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-200000}
EVENTS=${2:-10000000}
OUT=bench/out/cluster
mkdir -p "$OUT"

cargo build --release -q -p shoal-cli
SHOAL=$PWD/target/release/shoal
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
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
STORE=$OUT/store
rm -rf "$STORE"
for i in 1 2; do
    "$SHOAL" worker --coord "$URL" --store "$STORE" --name "bench-w$i" 2>"$OUT/worker$i.log" &
    WORKERS+=($!)
done

# Task rate from a run's --stats file (the result itself goes to stdout).
rate() { jq -r '"\(.tasks) tasks in \(.wall_seconds * 1000 | round / 1000)s = \(.tasks / .wall_seconds | round) tasks/s"' "$1"; }
echo "== no-op task throughput ($TASKS tasks)"
for run in 1 2 3; do
    "$SHOAL" run noop --params "{\"tasks\": $TASKS}" --coord "$URL" --store "$STORE" --quiet --stats "$OUT/noop.json" >/dev/null
    echo "shoal cluster (run $run): $(rate "$OUT/noop.json")"
done
"$SHOAL" run noop --params '{"tasks": 1000000}' --quiet --threads 2 --stats "$OUT/noop.json" >/dev/null
echo "shoal embedded: $(rate "$OUT/noop.json")"

if [ -z "${SKIP_PEERS:-}" ]; then
    source tests/crosscheck/peers_env.sh
    if shoal_peers_python distributed ray; then
        "$PY" bench/peers_tasks.py 20000 || true
    else
        echo "(peer install failed; continuing)"
    fi
fi

if [ -z "${SKIP_ANALYZE:-}" ]; then
    DATA=bench/data/events-$EVENTS
    [ -d "$DATA" ] || "$SHOAL" gen "$DATA" --events "$EVENTS" --format csv
    echo "== shoal analyze, $EVENTS events"
    /usr/bin/time -f "embedded: %e s wall, %M KB peak RSS" "$SHOAL" analyze "$DATA" --threads 2 --quiet --out "$OUT/embedded.json" >/dev/null
    /usr/bin/time -f "cluster (2 workers): %e s wall, %M KB peak RSS (driver)" \
        "$SHOAL" analyze "$DATA" --quiet --coord "$URL" --store "$STORE" --out "$OUT/cluster.json" >/dev/null
    cmp "$OUT/embedded.json" "$OUT/cluster.json" && echo "reports identical"
fi
