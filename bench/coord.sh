#!/usr/bin/env bash
# Coordination benchmark: Shoal (shoal-coord, Redis backend) vs redis-py's
# Lock on the same local Redis.
#
#   lock+RMW+unlock: lock, get a plain key, set it to value + 1, unlock —
#     four operations, as redis-py does them — with 1 client and with 8
#     contending clients (8 processes on each side);
#   lock_and_get+set_and_unlock: the same read-modify-write through Shoal's
#     two-round-trip API, against the same redis-py figures;
#   bank transfers/s with 8 clients: Shoal transactions (both balances read
#     in one step, then the commit) against redis-py's WATCH/GET/GET/MULTI/
#     EXEC in 8 processes; the target is 2x the 6,000/s Shoal measured
#     before (12,000/s);
#   embedded uncontended lock/unlock cycles/s (no peer).
#
# Shoal and redis-py runs alternate; each figure is the median of RUNS runs
# of RUN_SECONDS seconds. p50/p99 cycle latencies (all runs pooled) follow
# the table. The Redis round trip (redis-benchmark -c 1, PING; median of
# RUNS) is printed too, beside the same sequential PINGs through
# shoal-coord's own connection: four round trips per cycle cannot go
# faster than a quarter of it.
#
# CPU per cycle (all runs pooled) follows: the clients' CPU time (user +
# system, every process) and the redis-server's, each divided by the
# cycles done, next to redis-benchmark's CPU per PING. On a loaded machine
# wall rates mostly measure waiting for a core; CPU per cycle says where a
# cycle's time goes whatever the load.
#
#   bench/coord.sh                          # RUNS=3 RUN_SECONDS=3
#   RUNS=5 RUN_SECONDS=5 bench/coord.sh
#   SHOAL_PEERS_VENV=/path/to/venv bench/coord.sh   # default: .venv-peers in the repo
#   taskset -c 0 bench/coord.sh   # Redis and every client on one core
#
# Where the kernel runs redis-server and the client decides the round trip:
# on this 2-core machine a PING takes ~50 us between cores and ~15 us on
# the same core (no cross-core wake-up), so the four-round-trip cycle is
# capped near 4,900/s unpinned and 13,000/s pinned. The header line says
# how many cores the run had.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
RUN_SECONDS=${RUN_SECONDS:-3}
TARGET=${CARGO_TARGET_DIR:-target}

command -v redis-server >/dev/null || {
    echo "redis-server is missing: apt-get install -y redis-server" >&2
    exit 1
}
source tests/crosscheck/peers_env.sh
shoal_peers_python redis

cargo build -q --release -p shoal-coord --example coord_bench
BENCH="$TARGET/release/examples/coord_bench"

WORK=$(mktemp -d)
# A private redis-server on a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
URL="redis://127.0.0.1:$PORT"
TICKS=$(getconf CLK_TCK)
# CPU seconds (user + system) redis-server has used so far.
server_cpu() { awk -v t="$TICKS" '{ print ($14 + $15) / t }' "/proc/$REDIS_PID/stat"; }
# timed FILE COMMAND...: runs COMMAND, appending its CPU seconds (user +
# system, children included) to FILE.
timed() {
    local file=$1 one; shift
    one=$(mktemp "$WORK/time.XXXXXX")
    /usr/bin/time -f "%U %S" -o "$one" "$@"
    awk '{ print $1 + $2 }' "$one" >> "$file"
    rm -f "$one"
}
# account NAME CLIENT_CPU_FILE SERVER_BEFORE CYCLES: appends "client server
# cycles" of one run to $WORK/cpu-NAME.
account() {
    local client
    client=$(awk '{ s += $1 } END { print s + 0 }' "$2")
    echo "$client $(awk -v a="$3" -v b="$(server_cpu)" 'BEGIN { print b - a }') $4" >> "$WORK/cpu-$1"
    rm -f "$2"
}
# cpu_line NAME: "client X µs + server Y µs" per cycle over all runs of NAME.
cpu_line() {
    awk '{ c += $1; s += $2; n += $3 } END {
        if (n == 0) { print "-"; exit }
        printf "client %5.1f µs + server %5.1f µs", c / n * 1e6, s / n * 1e6 }' "$WORK/cpu-$1"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# p50 and p99 of the latencies (µs, one a line) in the given files.
percentiles() {
    cat "$@" | sort -n | awk '{a[NR]=$1} END {
        if (NR == 0) { print "-"; exit }
        p50 = a[int(NR * 0.50 + 0.999)]; p99 = a[int(NR * 0.99 + 0.999)]
        printf "p50 %d µs  p99 %d µs", p50, p99 }'
}

# Shoal with N clients = N processes (like redis-py's N processes), started
# together; prints the sum of their rates after checking that the value
# they incremented equals the sum of their cycles (no update lost).
# MODE: lock or two-trips. Latencies go to $WORK/lat-NAME-RUN-*.
shoal_procs() { # mode clients name run
    local mode=$1 clients=$2 name=$3 run=$4
    local start_at=$(( $(date +%s%3N) + 1000 )) pids=() i total counted cycles before
    before=$(server_cpu)
    for i in $(seq "$clients"); do
        SHOAL_BENCH_LATENCIES="$WORK/lat-$name-$run-$i" \
            timed "$WORK/client-cpu" "$BENCH" "$mode" "$URL" 1 "$RUN_SECONDS" "$start_at" >"$WORK/rate-$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    # Each process prints its rate and its cycle count.
    total=$(cat "$WORK"/rate-* | awk '{s += $1} END {printf "%.0f", s}')
    counted=$(cat "$WORK"/rate-* | awk '{s += $2} END {printf "%.0f", s}')
    rm -f "$WORK"/rate-*
    account "$name" "$WORK/client-cpu" "$before" "$counted"
    cycles=$(redis-cli -p "$PORT" hget shoal:kv:bench/value v)
    if [ "$cycles" != "$counted" ]; then
        echo "mutual exclusion broken: $counted cycles, value $cycles" >&2
        exit 1
    fi
    echo "$total"
}
# peer_procs clients name run [bank]: redis-py's side; prints its rate.
peer_procs() {
    local before out
    before=$(server_cpu)
    out=$(SHOAL_BENCH_LATENCIES="$WORK/lat-$2-$3" \
        timed "$WORK/client-cpu" "$PY" bench/coord_peer.py ${4:+"$4"} "$URL" "$1" "$RUN_SECONDS")
    account "$2" "$WORK/client-cpu" "$before" "$(echo "$out" | awk '{print $2}')"
    echo "$out" | awk '{print $1}'
}
# shoal_bank name: Shoal's bank transfers, 8 clients in one process.
shoal_bank() {
    local before out
    before=$(server_cpu)
    out=$(timed "$WORK/client-cpu" "$BENCH" bank "$URL" 8 "$RUN_SECONDS")
    account "$1" "$WORK/client-cpu" "$before" "$(echo "$out" | awk '{print $2}')"
    echo "$out" | awk '{print $1}'
}

# Runs the Shoal and redis-py sides of one workload alternately; sets
# SHOAL_RATE and PEER_RATE (medians).
compare() { # mode clients name
    local mode=$1 clients=$2 name=$3 run shoal=() peer=()
    for run in $(seq "$RUNS"); do
        redis-cli -p "$PORT" flushall >/dev/null
        if [ "$mode" = bank ]; then
            shoal+=("$(shoal_bank "$name")")
        else
            shoal+=("$(shoal_procs "$mode" "$clients" "$name" "$run")")
        fi
        redis-cli -p "$PORT" flushall >/dev/null
        if [ "$mode" = bank ]; then
            peer+=("$(peer_procs "$clients" "py-$name" "$run" bank)")
        else
            peer+=("$(peer_procs "$clients" "py-$name" "$run")")
        fi
    done
    SHOAL_RATE=$(printf '%s\n' "${shoal[@]}" | median)
    PEER_RATE=$(printf '%s\n' "${peer[@]}" | median)
}
only_shoal() { # command...
    local run results=()
    for run in $(seq "$RUNS"); do
        redis-cli -p "$PORT" flushall >/dev/null
        results+=("$("$@")")
    done
    printf '%s\n' "${results[@]}" | median
}
row() { # workload shoal peer
    if [ "$3" = "-" ]; then
        printf '%-44s %12s/s %14s %8s\n' "$1" "$2" "-" "-"
    else
        printf '%-44s %12s/s %12s/s %8s\n' "$1" "$2" "$3" \
            "$(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.1fx", a / b}')"
    fi
}

echo "coordination benchmark: $RUNS runs x ${RUN_SECONDS}s, redis $(redis-server --version | awk '{print $3}'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
PING_CPU="-"
if command -v redis-benchmark >/dev/null; then
    # Alternating with this client's own sequential PINGs (a connection
    # opened as coordination opens its own): the gap between the two is
    # what the client stack costs per round trip.
    bench_pings=() bench_p50=() our_pings=()
    for run in $(seq "$RUNS"); do
        before=$(server_cpu)
        # "PING_MBULK: 50150.45 requests per second, p50=0.015 msec"
        line=$(timed "$WORK/ping-cpu" redis-benchmark -p "$PORT" -c 1 -n 50000 -t ping_mbulk -q 2>/dev/null |
            tr '\r' '\n' | grep 'requests per second' | tail -1)
        account ping "$WORK/ping-cpu" "$before" 50000
        bench_pings+=("$(echo "$line" | awk '{printf "%.0f\n", $2}')")
        bench_p50+=("$(echo "$line" | sed -n 's/.*p50=\([0-9.]*\) msec.*/\1/p' | awk '{printf "%.0f\n", $1 * 1000}')")
        our_pings+=("$(SHOAL_BENCH_LATENCIES="$WORK/lat-ping-$run" "$BENCH" ping "$URL" "$RUN_SECONDS")")
    done
    ping=$(printf '%s\n' "${bench_pings[@]}" | median)
    ours=$(printf '%s\n' "${our_pings[@]}" | median)
    echo "redis round trip, 1 client: redis-benchmark ${ping:-?} PINGs/s (p50 $(printf '%s\n' "${bench_p50[@]}" | median) µs), shoal-coord's connection ${ours:-?} PINGs/s ($(percentiles "$WORK"/lat-ping-*)); four round trips: at most $(awk -v p="${ping:-0}" 'BEGIN {printf "%.0f", p / 4}') cycles/s"
    PING_CPU=$(cpu_line ping)
fi
printf '%-44s %14s %14s %8s\n' "workload" "shoal" "redis-py" "ratio"

LATENCY=()
for clients in 1 8; do
    compare lock "$clients" "lock$clients"
    row "lock+RMW+unlock, $clients client(s)" "$SHOAL_RATE" "$PEER_RATE"
    LATENCY+=("$(printf '%-44s shoal %s   redis-py %s' "lock+RMW+unlock, $clients client(s)" \
        "$(percentiles "$WORK"/lat-lock$clients-*)" "$(percentiles "$WORK"/lat-py-lock$clients-*)")")
    compare two-trips "$clients" "two$clients"
    # The peer is redis-py's four-operation cycle again, measured alongside.
    row "lock_and_get+set_and_unlock, $clients client(s)" "$SHOAL_RATE" "$PEER_RATE"
    LATENCY+=("$(printf '%-44s shoal %s   redis-py %s' "lock_and_get+set_and_unlock, $clients client(s)" \
        "$(percentiles "$WORK"/lat-two$clients-*)" "$(percentiles "$WORK"/lat-py-two$clients-*)")")
done
compare bank 8 bank
row "bank transfers (transactions), 8 clients" "$SHOAL_RATE" "$PEER_RATE"
row "embedded lock/unlock, uncontended" "$(only_shoal "$BENCH" embedded 5000000)" "-"
echo "targets: lock+RMW+unlock 1 client >= 10,000/s; 8 clients >= 3.0x redis-py; bank >= 12,000/s (2x 6,000/s)"
echo
echo "cycle latency (all runs pooled):"
printf '%s\n' "${LATENCY[@]}"
echo
echo "CPU per cycle (all runs pooled; PING: per request, x4 for a four-round-trip cycle):"
printf '%-44s %s\n' "redis-benchmark PING, 1 client" "$PING_CPU"
for name in lock1 two1 lock8 two8 bank; do
    printf '%-44s shoal %s   redis-py %s\n' "$name" "$(cpu_line "$name")" "$(cpu_line "py-$name")"
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
