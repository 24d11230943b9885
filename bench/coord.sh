#!/usr/bin/env bash
# Coordination benchmark: Shoal (shoal-coord, Redis backend) vs redis-py's
# Lock on the same local Redis, doing lock + read-modify-write of a plain
# key + unlock, with 1 client and with 8 contending clients; then bank
# transfers/s with 8 clients and embedded uncontended lock/unlock cycles/s.
# Prints the median of RUNS runs (default 3) and the ratio to redis-py.
#
#   bench/coord.sh            # RUNS=3 SECONDS=3
#   RUNS=5 SECONDS=5 bench/coord.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS:-3}
VENV=${SHOAL_PEER_VENV:-/work/.venv-peers}
TARGET=${CARGO_TARGET_DIR:-target}

command -v redis-server >/dev/null || {
    echo "redis-server is missing: apt-get install -y redis-server" >&2
    exit 1
}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import redis" 2>/dev/null || "$VENV/bin/pip" install -q redis

cargo build -q --release -p shoal-coord --example coord_bench
BENCH="$TARGET/release/examples/coord_bench"

# A private redis-server on a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
URL="redis://127.0.0.1:$PORT"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # name, command...
    local name=$1; shift
    local results=()
    for _ in $(seq "$RUNS"); do
        redis-cli -p "$PORT" flushall >/dev/null
        results+=("$("$@")")
    done
    printf '%s\n' "${results[@]}" | median
}

echo "coordination benchmark: $RUNS runs x ${SECONDS_PER_RUN}s, redis $(redis-server --version | awk '{print $3}'), $(nproc) cores"
printf '%-44s %14s %14s %8s\n' "workload" "shoal" "redis-py" "ratio"
# Shoal with N clients = N processes (like redis-py's N processes), started
# together; the sum of their rates, after checking no update was lost.
shoal_procs() { # clients
    local start_at=$(( $(date +%s%3N) + 1000 )) pids=() i total
    local out; out=$(mktemp -d)
    for i in $(seq "$1"); do
        "$BENCH" lock "$URL" 1 "$SECONDS_PER_RUN" "$start_at" >"$out/$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    total=$(cat "$out"/* | awk '{s += $1} END {printf "%.0f", s}')
    local cycles; cycles=$(redis-cli -p "$PORT" hget shoal:kv:bench/value v)
    rm -r "$out"
    awk -v c="$cycles" -v r="$total" -v s="$SECONDS_PER_RUN" 'BEGIN {
        if (c < 0.9 * r * s || c > 1.1 * r * s) { print "count mismatch: " c " vs " r*s > "/dev/stderr"; exit 1 } }'
    echo "$total"
}
for clients in 1 8; do
    shoal=$(measure shoal shoal_procs "$clients")
    peer=$(measure peer "$VENV/bin/python" bench/coord_peer.py "$URL" "$clients" "$SECONDS_PER_RUN")
    ratio=$(awk -v a="$shoal" -v b="$peer" 'BEGIN {printf "%.1fx", a / b}')
    printf '%-44s %12s/s %12s/s %8s\n' "lock+RMW+unlock, $clients client(s)" "$shoal" "$peer" "$ratio"
done
bank=$(measure bank "$BENCH" bank "$URL" 8 "$SECONDS_PER_RUN")
printf '%-44s %12s/s %14s %8s\n' "bank transfers (transactions), 8 clients" "$bank" "-" "-"
embedded=$(measure embedded "$BENCH" embedded 5000000)
printf '%-44s %12s/s %14s %8s\n' "embedded lock/unlock, uncontended" "$embedded" "-" "-"
