# shellcheck shell=bash
# Helpers shared by the network-namespace tests (sourced, not run).
#
# Every test keeps its state in one directory, $STATE (processes' pid files,
# namespace and link names, mount points), named after the test and its pid.
# Teardown reads only that directory, so the same code tears down this run
# on exit and the leftovers of an earlier run that was killed before its
# trap could run (`sweep_stale`).

# glusterd, mount.glusterfs and ip live in sbin, which a non-login
# environment may leave off PATH.
PATH=$PATH:/usr/sbin:/sbin

say() { printf '%s [%3ds %s]: %s\n' "${TEST_NAME:-netns}" "$SECONDS" "$(date +%T.%3N)" "$*" || true; }
die() {
    printf '%s: FAILED: %s\n' "${TEST_NAME:-netns}" "$*" >&2
    exit 1
}

require_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    die "needs root (it creates network namespaces, veth links and mounts); run it as root, e.g. sudo $0"
}

require_cmds() {
    local cmd
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || die "missing command '$cmd' (scripts/test.sh installs it)"
    done
}

# The shoal binary: $SHOAL_BIN, or the debug build (as tests/crosscheck/run.sh).
shoal_bin() {
    if [ -z "${SHOAL_BIN:-}" ]; then
        (cd "$NETNS_ROOT" && cargo build --quiet -p shoal-cli --bin shoal)
        SHOAL_BIN="${CARGO_TARGET_DIR:-$NETNS_ROOT/target}/debug/shoal"
    fi
    [ -x "$SHOAL_BIN" ] || die "no shoal binary at $SHOAL_BIN"
}

# wait_until SECONDS WHAT CMD...: polls CMD (every 100 ms) until it succeeds;
# dies naming WHAT when SECONDS pass first.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
        sleep 0.1
    done
}

# Like wait_until but returns 1 instead of dying (teardown must go on).
wait_quietly() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# True when pid $1 is one of ours: its command line or working directory
# names the state directory $2 (guards against a recycled pid).
ours() {
    local pid=$1 dir=$2
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$dir" && return 0
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)/" in "$dir"/*) return 0 ;; esac
    return 1
}

# stop_pid PID STATE_DIR: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
    local pid=$1 dir=$2
    [ -n "$pid" ] && alive "$pid" && ours "$pid" "$dir" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_quietly 10 gone "$pid"; then
        echo "  pid $pid ignored SIGTERM for 10s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait_quietly 5 gone "$pid" || echo "  pid $pid survives SIGKILL" >&2
    fi
}

# Records a pid the teardown must stop (one file per process).
record_pid() { echo "$2" >"$STATE/pids/$1"; }

# Stops every recorded process: workers and drivers first, Redis last (a
# worker stopping gracefully still talks to Redis).
stop_recorded() {
    local f
    for f in "$STATE"/pids/*; do
        [ -f "$f" ] && [ "${f##*/}" != redis ] && stop_pid "$(cat "$f")" "$STATE"
    done
    [ -f "$STATE/pids/redis" ] && stop_pid "$(cat "$STATE/pids/redis")" "$STATE"
    return 0
}

# A free TCP port on address $1.
free_port() {
    python3 -c 'import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$1"
}

# pick_subnet PREFIX: a /24 "PREFIX.N" (e.g. 10.99.17) no interface on this
# host (or a namespace of ours still being torn down) already uses.
pick_subnet() {
    local prefix=$1 i n used
    used=$(ip -o -4 addr show)
    for i in $(seq 0 249); do
        n=$(((RUN_ID + i) % 250 + 1))
        case "$used" in *" $prefix.$n."*) continue ;; esac
        echo "$prefix.$n"
        return 0
    done
    die "no free $prefix.N/24 subnet"
}

# start_redis ADDR PORT PASSWORD: a throwaway redis-server on ADDR:PORT,
# working directory $STATE/redis (so teardown can tell it is ours).
start_redis() {
    local addr=$1 port=$2 pass=$3
    mkdir -p "$STATE/redis"
    (cd "$STATE/redis" && exec redis-server --port "$port" --bind "$addr" \
        --requirepass "$pass" --protected-mode no --save '' --appendonly no \
        --dir "$STATE/redis" --logfile "$STATE/redis/redis.log") &
    local pid=$!
    record_pid redis "$pid"
    wait_until 20 "redis-server on $addr:$port" redis_up "$pid" "$addr" "$port" "$pass"
}

# redis_up PID ADDR PORT PASSWORD: the server answers PING (dies if it exited).
redis_up() {
    alive "$1" || die "redis-server exited: $(tail -3 "$STATE/redis/redis.log")"
    REDISCLI_AUTH="$4" redis-cli -h "$2" -p "$3" ping 2>/dev/null | grep -q PONG
}

# The shoal status JSON of the cluster at $COORD.
status_json() { timeout 20 "$SHOAL_BIN" status --coord "$COORD" --json; }

# True when worker $1 is live (heartbeating) in `shoal status`.
worker_live() {
    status_json | jq -e --arg n "$1" 'any(.workers[]; .name == $n)' >/dev/null
}

# True when exactly $1 workers are live.
live_workers_are() {
    status_json | jq -e --argjson n "$1" '(.workers | length) == $n' >/dev/null
}

# same FILE_A FILE_B WHAT: byte-identical or die showing the difference.
same() {
    if ! cmp -s "$1" "$2"; then
        diff <(head -c 4000 "$1") <(head -c 4000 "$2") | head -20 >&2 || true
        die "$3: $1 and $2 differ"
    fi
    say "ok: $3 (byte-identical, $(wc -c <"$1") bytes)"
}

# Signals run the EXIT trap (teardown) instead of killing the script.
trap_signals() {
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 141' PIPE
    trap 'exit 143' TERM
}

# keep_logs: on failure, copies $STATE/log (and status snapshots) next to
# the state directory, which teardown deletes, and says where.
keep_logs() {
    local keep="$STATE.logs"
    [ -d "$STATE/log" ] || return 0
    rm -rf -- "$keep" && mkdir -p "$keep" && cp -r "$STATE"/log/. "$keep"/ &&
        cp "$STATE"/*.json "$keep"/ 2>/dev/null
    say "logs kept in $keep"
}

# sweep_stale GLOB TEARDOWN_FN: tears down state directories matching GLOB
# left by runs whose process is gone (killed before their trap ran).
sweep_stale() {
    local glob=$1 fn=$2 dir owner
    for dir in $glob; do
        [ -f "$dir/owner" ] || continue
        owner=$(cat "$dir/owner")
        alive "$owner" && continue
        say "tearing down leftovers of run $owner ($dir)"
        STATE=$dir "$fn" || true
    done
}
