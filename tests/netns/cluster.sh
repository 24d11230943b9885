#!/usr/bin/env bash
# Cluster mode end to end with every worker in its own network namespace
# (issue 5), including cutting one worker off the network mid-job. One
# command, as root:
#     tests/netns/cluster.sh
#
# Topology (N is picked so no host interface uses 10.99.N.0/24):
#   host: bridge shbPID 10.99.N.1, redis-server bound there (password)
#   namespace shoal-PID-wI: eth0 10.99.N.(10+I), one `shoal worker` each
# The driver runs on the host; the store is a local directory every
# namespace sees (network namespaces share the file system).
#
# Checks:
#   - each worker reaches Redis over its own link (Redis sees 3 clients
#     from the 3 namespace addresses);
#   - wordcount and analyze (CSV, Parquet) on the cluster print exactly
#     the bytes of embedded runs;
#   - cut-offs (`ip link set eth0 down` inside the worker's namespace, the
#     moment the worker holds pending task entries of the running job):
#     w2 during 90 sleeping no-op tasks, w3 during analyze on 1M events.
#     Each job still prints the embedded bytes (the driver reclaims the
#     worker's tasks once its 3 s --heartbeat-ttl lapses), `shoal status`
#     reports the worker gone, the other two compute analyze correctly,
#     and the worker stays cut off until it reports Redis unreachable;
#   - link restored: the worker rejoins (or has exited cleanly) and takes
#     tasks of the next job, whose output is again identical;
#   - in the end every job succeeded, no worker panicked and the store
#     holds nothing.
# Everything (workers, driver, Redis, namespaces, links) is torn down on
# exit, also on failure, by pid and by recorded name.
#
# Env: SHOAL_BIN (default: builds the debug binary), CARGO_TARGET_DIR,
# EVENTS (default 200000), TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NETNS_ROOT=$(cd "$here/../.." && pwd)
TEST_NAME=cluster
RUN_ID=$$
# shellcheck source=tests/netns/lib.sh
source "$here/lib.sh"

base=${TMPDIR:-/tmp}
base=${base%/}
WORKERS=3
TTL=3s

teardown_cluster() {
    local s=$STATE name
    # A cut-off worker would spend its grace period retrying its reports:
    # give every worker its link back so they all stop promptly.
    if [ -f "$s/netns" ]; then
        while read -r name; do ip netns exec "$name" ip link set eth0 up 2>/dev/null || true; done <"$s/netns"
    fi
    stop_recorded
    if [ -f "$s/netns" ]; then
        while read -r name; do ip netns del "$name" 2>/dev/null || true; done <"$s/netns"
    fi
    if [ -f "$s/links" ]; then
        while read -r name; do ip link del "$name" 2>/dev/null || true; done <"$s/links"
    fi
    rm -rf -- "$s"
}

on_exit() {
    local code=$?
    set +e
    # Teardown must finish: no signal (not even a closed stdout) stops it.
    trap - EXIT
    trap '' HUP INT TERM PIPE
    if [ $code -ne 0 ]; then
        keep_logs || true
    fi
    say "tearing down"
    teardown_cluster || code=1
    exit $code
}

require_root
require_cmds ip redis-server redis-cli jq python3 timeout cmp
sweep_stale "$base/shoal-netns-cluster.*" teardown_cluster
shoal_bin
started=$SECONDS

STATE=$base/shoal-netns-cluster.$RUN_ID
mkdir -p "$STATE"/{pids,log,data}
echo $$ >"$STATE/owner"
trap on_exit EXIT
trap_signals

# --- network: a bridge on the host, one namespace per worker --------------
net=$(pick_subnet 10.99)
bridge=shb$RUN_ID
echo "$bridge" >>"$STATE/links"
ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
ns_of() { echo "shoal-$RUN_ID-w$1"; }
addr_of() { echo "$net.$((10 + $1))"; }
for i in $(seq 1 $WORKERS); do
    ns=$(ns_of "$i")
    echo "$ns" >>"$STATE/netns"
    ip netns add "$ns"
    echo "shv${RUN_ID}w$i" >>"$STATE/links"
    ip link add "shv${RUN_ID}w$i" type veth peer name "shp${RUN_ID}w$i"
    ip link set "shp${RUN_ID}w$i" netns "$ns"
    ip link set "shv${RUN_ID}w$i" master "$bridge" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "shp${RUN_ID}w$i" name eth0
    ip netns exec "$ns" ip addr add "$(addr_of "$i")/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
done

port=$(free_port "$net.1")
pass=cl-$RUN_ID-$RANDOM
start_redis "$net.1" "$port" "$pass"
COORD=redis://:$pass@$net.1:$port
say "bridge $bridge $net.1, Redis $net.1:$port, $WORKERS namespaces"

# --- workers, one per namespace --------------------------------------------
STORE=$STATE/store
start_worker() {
    ip netns exec "$(ns_of "$1")" "$SHOAL_BIN" worker --coord "$COORD" --store "$STORE" \
        --slots 2 --name "w$1" --heartbeat-ttl "$TTL" 2>>"$STATE/log/w$1.log" &
    record_pid "w$1" $!
}
for i in $(seq 1 $WORKERS); do start_worker "$i"; done
wait_until 60 "$WORKERS workers to register" live_workers_are $WORKERS
# Each worker must be talking to Redis from its own namespace's address.
clients_from_all() {
    local list i
    list=$(REDISCLI_AUTH=$pass redis-cli -h "$net.1" -p "$port" client list)
    for i in $(seq 1 $WORKERS); do
        grep -q "addr=$(addr_of "$i"):" <<<"$list" || return 1
    done
}
wait_until 20 "Redis to see clients from every namespace address" clients_from_all
say "ok: workers w1..w$WORKERS registered, each connected from its own namespace ($((SECONDS - started)) s)"

# --- data --------------------------------------------------------------------
data=$STATE/data
events=${EVENTS:-200000}
"$SHOAL_BIN" gen "$data/csv" --events "$events" --days 21 --seed 41 --files 6 --format csv >/dev/null
"$SHOAL_BIN" gen "$data/parquet" --events "$events" --days 21 --seed 43 --files 3 --format parquet >/dev/null
mkdir -p "$data/texts"
words=(tide reef shoal fish école kelp gull)
for f in 0 1 2 3 4 5; do
    for i in $(seq 0 2999); do
        printf '%s ' "${words[$(((i * (f + 3) + i / 7) % 7))]}"
        [ $((i % 9)) -ne 0 ] || echo
    done >"$data/texts/part-$f.txt"
done

# embedded NAME ARGS...: a job on the host alone; cluster NAME ARGS...: on the cluster.
embedded() { timeout 300 "$SHOAL_BIN" "$@" --quiet --threads "${THREADS:-2}"; }
cluster() { timeout 300 "$SHOAL_BIN" "$@" --quiet --coord "$COORD" --store "$STORE" --worker-timeout "$TTL"; }
compare() { # NAME ARGS...: cluster output == embedded output, byte for byte
    local name=$1
    shift
    [ -f "$STATE/$name.embedded" ] || embedded "$@" >"$STATE/$name.embedded"
    cluster "$@" >"$STATE/$name.cluster"
    same "$STATE/$name.embedded" "$STATE/$name.cluster" "$name on the cluster == embedded"
}
wordcount_args=(wordcount "$data/texts" --json --partitions 5 --top 20)
compare wordcount "${wordcount_args[@]}"
compare analyze-csv analyze "$data/csv" --json
compare analyze-parquet analyze "$data/parquet" --json
jq -e --argjson n "$events" '.events == $n' "$STATE/analyze-csv.embedded" >/dev/null ||
    die "the analyze report does not count $events events"

# --- cutting workers off mid-job ---------------------------------------------
rcli() { REDISCLI_AUTH=$pass redis-cli -h "$net.1" -p "$port" "$@"; }
# True while worker $1 holds claimed, unacknowledged task entries (in any
# job's task stream): it is running tasks (or has results it has not
# reported yet).
holds_tasks() {
    local stream
    for stream in $(rcli --raw SMEMBERS shoal:queues 2>/dev/null); do
        [ "$(rcli --raw XPENDING "$stream" workers - + 100 "$1" 2>/dev/null | wc -l)" -gt 0 ] && return 0
    done
    return 1
}
link() { ip netns exec "$(ns_of "${1#w}")" ip link set eth0 "$2"; }

# cut_during WORKER NAME ARGS...: runs the job ARGS on the cluster, cuts
# WORKER's link while it holds tasks of the job, and checks the job still
# prints the embedded bytes and `shoal status` reports WORKER gone. A job
# that ends before WORKER took any of its tasks is run again (3 tries).
cut_during() {
    local worker=$1 name=$2 try driver code cut_at job
    shift 2
    [ -f "$STATE/$name.embedded" ] || THREADS=${THREADS:-2} embedded "$@" >"$STATE/$name.embedded"
    for try in 1 2 3; do
        cluster "$@" >"$STATE/$name.cut.cluster" 2>"$STATE/log/driver-$name.log" &
        driver=$!
        record_pid driver "$driver"
        local deadline=$((SECONDS + 120))
        until holds_tasks "$worker" || ! alive "$driver"; do
            [ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for $worker to take tasks of $name"
            sleep 0.02
        done
        alive "$driver" && break
        wait "$driver" || die "$name failed before any cut: $(tail -3 "$STATE/log/driver-$name.log")"
        rm -f "$STATE/pids/driver"
        say "$name ended before $worker took a task (try $try); again"
        [ "$try" -lt 3 ] || die "$worker never held a task of $name in 3 runs"
    done
    local log_lines
    log_lines=$(wc -l <"$STATE/log/$worker.log")
    link "$worker" down
    cut_at=$SECONDS
    job=$(status_json | jq -r '[.jobs[] | select(.state == "running")][0].id')
    say "cut $worker off (link down in its namespace) while it holds tasks of $name ($job)"
    wait_until 120 "$name to finish after $worker was cut off" gone "$driver"
    if wait "$driver"; then code=0; else code=$?; fi
    rm -f "$STATE/pids/driver"
    [ "$code" -eq 0 ] || die "$name failed (exit $code) after $worker was cut off: $(tail -3 "$STATE/log/driver-$name.log")"
    same "$STATE/$name.embedded" "$STATE/$name.cut.cluster" "$name with $worker cut off mid-job == embedded"
    say "$name finished $((SECONDS - cut_at)) s after the cut"

    # `shoal status`: the first look after the worker's registration expired
    # lists it as gone; from then on it is simply absent.
    pruned() {
        status_json >"$STATE/status.json"
        ! jq -e --arg w "$1" 'any(.workers[]; .name == $w)' "$STATE/status.json" >/dev/null
    }
    wait_until 30 "shoal status to stop listing $worker as live" pruned "$worker"
    jq -e --arg w "$worker" '.gone | index($w)' "$STATE/status.json" >/dev/null ||
        die "shoal status did not report $worker gone: $(cat "$STATE/status.json")"
    live_workers_are $((WORKERS - 1)) || die "expected $((WORKERS - 1)) live workers with $worker cut off"
    say "ok: shoal status reports $worker gone, $((WORKERS - 1)) workers live"
    # Keep it cut off until it has given up on Redis at least once, as a
    # real partition would: whatever it does then must corrupt nothing.
    noticed() { tail -n +"$((log_lines + 1))" "$STATE/log/$worker.log" | grep -q unreachable; }
    wait_until 60 "$worker to report Redis unreachable" noticed
    say "$worker reports Redis unreachable: $(grep unreachable "$STATE/log/$worker.log" | tail -1 | cut -c1-120)"
}

# restore WORKER: brings its link back; it must rejoin and run tasks again,
# or have exited cleanly.
restore() {
    local worker=$1 pid driver seen=no
    pid=$(cat "$STATE/pids/$worker")
    link "$worker" up
    back() { worker_live "$1" || ! alive "$2"; }
    wait_until 60 "$worker to rejoin or exit after its link came back" back "$worker" "$pid"
    if ! worker_live "$worker"; then
        wait "$pid" || die "$worker exited with an error after its link came back: $(tail -3 "$STATE/log/$worker.log")"
        rm -f "$STATE/pids/$worker"
        say "ok: $worker exited cleanly"
        return 0
    fi
    say "ok: $worker rejoined after its link came back"
    cluster run noop --params "$slow" >"$STATE/noop.rejoined.cluster" 2>"$STATE/log/driver-rejoin.log" &
    driver=$!
    record_pid driver "$driver"
    while alive "$driver"; do
        if holds_tasks "$worker"; then seen=yes && break; fi
        sleep 0.02
    done
    wait_until 120 "the job after $worker rejoined to finish" gone "$driver"
    wait "$driver" || die "the job after $worker rejoined failed: $(tail -3 "$STATE/log/driver-rejoin.log")"
    rm -f "$STATE/pids/driver"
    [ "$seen" = yes ] || die "$worker rejoined but took no task of the next job"
    same "$STATE/noop.embedded" "$STATE/noop.rejoined.cluster" "noop after $worker rejoined (and ran tasks) == embedded"
}

# 1. w2 cut while running sleeping no-op tasks (it surely holds some).
slow='{"tasks": 90, "sleep_ms": 200, "echo": true}'
# Sleeping tasks need no cores: 16 threads keep the embedded run short.
THREADS=16 embedded run noop --params "$slow" >"$STATE/noop.embedded"
# noop's result sums the echoed partitions: 0 + 1 + … + 89 = 4005.
jq -e '.tasks == 90 and .echoed == 4005' "$STATE/noop.embedded" >/dev/null ||
    die "embedded noop did not echo 90 partitions: $(cat "$STATE/noop.embedded")"
cut_during w2 noop run noop --params "$slow"
alive "$(cat "$STATE/pids/w2")" || say "note: w2 exited while cut off ($(tail -1 "$STATE/log/w2.log"))"
rm -f "$STATE/analyze-csv.cluster"
compare analyze-csv analyze "$data/csv" --json
say "ok: the remaining workers compute correctly while w2 is cut off"
restore w2

# 2. w3 cut during analyze on more data: its shuffle output goes through the
#    store, so a cut-off worker may still write there.
"$SHOAL_BIN" gen "$data/big" --events $((events * 5)) --days 30 --seed 47 --files 24 --format csv >/dev/null
cut_during w3 analyze-big analyze "$data/big" --json
restore w3
rm -f "$STATE"/*.cluster
compare wordcount "${wordcount_args[@]}"
compare analyze-parquet analyze "$data/parquet" --json

# --- nothing corrupted, nothing left behind ---------------------------------
idle() { status_json | jq -e 'all(.workers[]; .running == 0) and all(.jobs[]; .state != "running")' >/dev/null; }
wait_until 30 "every worker to be idle" idle
# A worker cut off from Redis must not commit after its job ended: it
# trusts a job only for its heartbeat TTL without Redis, and deletes what it
# wrote if the job ended meanwhile. So nothing at all may be left.
left=$(find "$STORE" -type f 2>/dev/null | head -10)
[ -z "$left" ] || die "files left in the store after every job ended: $left"
failed=$(status_json | jq '[.jobs[] | select(.state != "succeeded")] | length')
[ "$failed" -eq 0 ] || die "$failed jobs did not succeed: $(status_json | jq -c '.jobs')"
if grep -l "panicked" "$STATE"/log/w*.log; then die "a worker panicked"; fi
say "ok: every job succeeded, nothing else left in the store, no worker panicked"
say "all network-namespace cluster checks passed in $((SECONDS - started)) s"
