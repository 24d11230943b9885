#!/usr/bin/env bash
# The dashboard's cost and speed, measured in one run on this machine:
#   1. no-op task throughput through Redis (2 local workers) with `shoal ui`
#      open in headless Chromium (it refreshes once a second) and the ui's and
#      both workers' /metrics scraped every second, against the same runs
#      without them — alternated, so both sides see the same machine load;
#   2. the job page of a finished TASKS-task job rendered by headless
#      Chromium: time from navigation start until the first view is complete
#      (the page's own performance.now(), charts drawn), median of 5.
# Usage: bench/ui.sh [TASKS] [RUNS]      (defaults 200000 and 3; SHOAL_BIN=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-200000}
RUNS=${2:-3}
OUT=bench/out/ui
mkdir -p "$OUT"

# SHOAL_BIN: a binary built already (skips the build).
[ -n "${SHOAL_BIN:-}" ] || cargo build --release -q -p shoal-cli
SHOAL=${SHOAL_BIN:-$PWD/target/release/shoal}
for tool in redis-server jq curl /usr/bin/chromium; do
    command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/test.sh once (it installs what the tests need)"; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
UI_PORT=$(free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
PIDS=($!)
# The watchers (shoal ui, the browser, the scraper) run in process groups of
# their own: between watched runs they are paused with SIGSTOP rather than
# restarted, so no run pays for a browser starting up.
WATCHERS=()
cleanup() {
    for g in "${WATCHERS[@]}"; do kill -CONT -- "-$g" 2>/dev/null || true; kill -- "-$g" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$OUT/profile" "$OUT/profile-r"
}
trap cleanup EXIT
URL=redis://127.0.0.1:$PORT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
STORE=$OUT/store
rm -rf "$STORE"
for i in 1 2; do
    "$SHOAL" worker --coord "$URL" --store "$STORE" --name "bench-w$i" --metrics 127.0.0.1:0 2>"$OUT/worker$i.log" &
    PIDS+=($!)
done
metrics_url() { # the URL a worker printed for its /metrics
    for _ in $(seq 100); do
        grep -o 'http://[^ ]*metrics' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no metrics URL in $1" >&2; exit 1
}
W1=$(metrics_url "$OUT/worker1.log")
W2=$(metrics_url "$OUT/worker2.log")

CHROMIUM=(/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
          --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars)
UI="http://127.0.0.1:$UI_PORT"

setsid "$SHOAL" ui --coord "$URL" --bind "127.0.0.1:$UI_PORT" 2>"$OUT/ui.log" &
WATCHERS+=($!)
for _ in $(seq 100); do curl -sf "$UI/metrics" >/dev/null && break; sleep 0.1; done
rm -rf "$OUT/profile"
# Stays open (a debugging port keeps headless Chromium alive), refreshing the
# overview once a second like a person's browser tab.
setsid "${CHROMIUM[@]}" --user-data-dir="$OUT/profile" --remote-debugging-port=0 "$UI/" >"$OUT/chromium.log" 2>&1 &
WATCHERS+=($!)
# One scraper process, like Prometheus: every second, the ui's and both
# workers' /metrics.
setsid bash -c "while true; do curl -sf '$UI/metrics' '$W1' '$W2' >/dev/null; sleep 1; done" &
WATCHERS+=($!)
sleep 5 # let the browser start up and load the page before anything is measured
watchers() { for g in "${WATCHERS[@]}"; do kill "-$1" -- "-$g" 2>/dev/null || true; done; }

rate() { jq -r '.tasks / .wall_seconds | round' "$1"; }
run_noop() {
    "$SHOAL" run noop --params "{\"tasks\": $TASKS}" --coord "$URL" --store "$STORE" --quiet --stats "$OUT/noop.json" >/dev/null
    rate "$OUT/noop.json"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

echo "== no-op throughput, $TASKS tasks, 2 workers (load: $(uptime | sed 's/.*load average: //'))"
: >"$OUT/plain.txt"; : >"$OUT/watched.txt"; : >"$OUT/ratios.txt"
for run in $(seq "$RUNS"); do
    # Alternate which side goes first, so neither always runs second.
    for side in $( [ $((run % 2)) -eq 1 ] && echo "plain watched" || echo "watched plain"); do
        if [ "$side" = plain ]; then watchers STOP; else watchers CONT; fi
        r=$(run_noop)
        echo "$r" >>"$OUT/$side.txt"
        eval "$side=$r"
    done
    ratio=$(awk -v w="$watched" -v p="$plain" 'BEGIN {printf "%.3f", w/p}')
    echo "$ratio" >>"$OUT/ratios.txt"
    echo "run $run: without ui $plain tasks/s | with ui + Chromium + scrapes $watched tasks/s | ratio $ratio"
done
watchers CONT
P=$(median <"$OUT/plain.txt")
W=$(median <"$OUT/watched.txt")
# The median of each run's own ratio too: the two sides of one run saw the
# same load, which on a shared machine drifts more than the ui costs.
R=$(sort -n "$OUT/ratios.txt" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "median: without ui $P tasks/s | with ui $W tasks/s | ratio $(awk -v w="$W" -v p="$P" 'BEGIN {printf "%.3f", w/p}') | median per-run ratio $R (goal: >= 0.90)"

echo "== job page of a finished $TASKS-task job in headless Chromium"
JOB=$(curl -sf "$UI/api/overview" | jq -r '.jobs[0].id')
PAGE="$UI/jobs/$JOB"
SIZE=$(curl -sf "$PAGE" | wc -c)
: >"$OUT/render.txt"
for i in 1 2 3 4 5; do
    rm -rf "$OUT/profile-r"
    start=$(date +%s%N)
    ms=$("${CHROMIUM[@]}" --user-data-dir="$OUT/profile-r" --dump-dom "$PAGE" 2>/dev/null \
        | grep -o 'data-render-ms="[0-9]*"' | grep -o '[0-9]*')
    wall=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$ms" >>"$OUT/render.txt"
    echo "render $i: first view complete at ${ms} ms (chromium process incl. start-up: ${wall} ms)"
done
echo "median: $(median <"$OUT/render.txt") ms for a $(( SIZE / 1024 )) KiB page of job $JOB (goal: < 1000 ms)"
