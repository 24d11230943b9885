#!/usr/bin/env bash
# Shoal on a real GlusterFS volume (issue 7). One command, as root:
#     tests/netns/gluster.sh
#
# glusterd refuses loopback brick addresses, so it runs inside a network
# namespace this script creates, reached over a veth pair with private
# addresses of its own (10.98.N.1 host side, 10.98.N.2 in the namespace).
# glusterd gets its own volfile, working directory, run directory, CLI
# socket and pid file under the state directory, so it cannot clash with a
# system glusterd. A one-brick volume is created with `force` and mounted
# three times with `mount -t glusterfs` on the host: three independent
# FUSE clients of the same volume. Then:
#   - the mount has the semantics first-commit-wins relies on (exclusive
#     create, hard link refusing an existing name, seen from another client);
#   - `shoal gen` writes the same bytes through the mount as to local disk;
#   - `shoal analyze` reading the mount prints the same JSON as from local
#     disk (CSV and Parquet, through two different clients);
#   - a cluster (Redis on loopback, two workers) whose driver and workers
#     each use a *different* mount of the volume as their store gives the
#     same output as embedded runs: it can only succeed if what one client
#     commits is visible, whole, to the others;
#   - nothing is left in the store afterwards.
# Everything (workers, Redis, mounts, FUSE clients, brick, glusterd, the
# namespace) is torn down on exit, also on failure, by pid.
#
# Env: SHOAL_BIN (default: builds the debug binary), CARGO_TARGET_DIR,
# EVENTS (default 200000), TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NETNS_ROOT=$(cd "$here/../.." && pwd)
TEST_NAME=gluster
RUN_ID=$$
# shellcheck source=tests/netns/lib.sh
source "$here/lib.sh"

VOL=shoal
base=${TMPDIR:-/tmp}
base=${base%/}

gluster_cli() {
    timeout 60 gluster --glusterd-sock="$STATE/run/glusterd.socket" --mode=script \
        --log-file="$STATE/log/cli.log" "$@"
}

# Tears down everything $STATE records; safe to run twice or on a
# half-built setup.
teardown_gluster() {
    local s=$STATE f m pid
    stop_recorded
    if [ -f "$s/mounts" ]; then
        while read -r m; do
            mountpoint -q "$m" 2>/dev/null || continue
            umount "$m" 2>/dev/null || umount -l "$m" || echo "  cannot unmount $m" >&2
        done <"$s/mounts"
    fi
    # A FUSE client exits by itself once unmounted.
    for f in "$s"/fuse/*; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        wait_quietly 10 gone "$pid" || stop_pid "$pid" "$s"
    done
    pid=$(cat "$s/glusterd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid" && ours "$pid" "$s"; then
        gluster_cli volume stop "$VOL" >/dev/null 2>&1 || true
    fi
    for f in "$s"/run/vols/*/*.pid; do
        [ -f "$f" ] && stop_pid "$(cat "$f")" "$s"
    done
    stop_pid "$pid" "$s"
    [ -f "$s/ns" ] && ip netns del "$(cat "$s/ns")" 2>/dev/null
    [ -f "$s/veth" ] && ip link del "$(cat "$s/veth")" 2>/dev/null
    # Files glusterd's bricks keep outside our directory (log, socket).
    if [ -f "$s/outside" ]; then
        while read -r f; do rm -f -- "$f"; done <"$s/outside"
    fi
    if grep -qF " $s/" /proc/mounts; then
        echo "  something is still mounted under $s; leaving it" >&2
        return 1
    fi
    rm -rf -- "$s"
}

on_exit() {
    local code=$?
    set +e
    # Teardown must finish: no signal (not even a closed stdout) stops it.
    trap - EXIT
    trap '' HUP INT TERM PIPE
    [ $code -eq 0 ] || keep_logs || true
    say "tearing down"
    teardown_gluster || code=1
    exit $code
}

require_root
require_cmds glusterd gluster mount.glusterfs ip redis-server redis-cli jq python3 mountpoint timeout
[ -c /dev/fuse ] || die "/dev/fuse is missing: the GlusterFS client is a FUSE file system (modprobe fuse)"
sweep_stale "$base/shoal-netns-gluster.*" teardown_gluster
shoal_bin
started=$SECONDS

STATE=$base/shoal-netns-gluster.$RUN_ID
mkdir -p "$STATE"/{pids,fuse,lib,run,log,brick,local}
echo $$ >"$STATE/owner"
trap on_exit EXIT
trap_signals

# --- the namespace and its link ------------------------------------------
net=$(pick_subnet 10.98)
ns=shoal-gl-$RUN_ID
host_if=sgh$RUN_ID
ns_if=sgn$RUN_ID
server=$net.2
echo "$ns" >"$STATE/ns"
ip netns add "$ns"
echo "$host_if" >"$STATE/veth"
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
ip addr add "$net.1/24" dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip addr add "$server/24" dev "$ns_if"
ip netns exec "$ns" ip link set "$ns_if" up
say "namespace $ns: glusterd at $server (host side $net.1)"

# --- glusterd, with everything of its own under $STATE -------------------
cat >"$STATE/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $STATE/lib
    option run-directory $STATE/run
    option glusterd-sockfile $STATE/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port 24007
    option transport.address-family inet
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
ip netns exec "$ns" glusterd -f "$STATE/glusterd.vol" -p "$STATE/glusterd.pid" \
    -l "$STATE/log/glusterd.log"
glusterd_up() { [ -s "$STATE/glusterd.pid" ] && gluster_cli volume list >/dev/null 2>&1; }
wait_until 30 "glusterd to answer on $STATE/run/glusterd.socket" glusterd_up
ours "$(cat "$STATE/glusterd.pid")" "$STATE" || die "glusterd pid file names a process that is not ours"
say "glusterd up (pid $(cat "$STATE/glusterd.pid"))"

gluster_cli volume create "$VOL" "$server:$STATE/brick" force >/dev/null
gluster_cli volume start "$VOL" >/dev/null
brick_pidfile=$(ls "$STATE"/run/vols/"$VOL"/*.pid)
brick_pid=$(cat "$brick_pidfile")
ours "$brick_pid" "$STATE" || die "brick pid $brick_pid is not ours"
# The brick keeps its log and socket in system directories: note them.
tr '\0' '\n' <"/proc/$brick_pid/cmdline" | awk 'prev == "-l" || prev == "-S" { print } { prev = $0 }' \
    >"$STATE/outside"
say "volume $VOL started (brick pid $brick_pid)"

# --- three FUSE clients of the volume on the host -------------------------
fuse_pid_of() { # the glusterfs client process serving mount point $1
    local p
    for p in /proc/[0-9]*; do
        tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF -- "$1" || continue
        case "$(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -1)" in
            *glusterfs) echo "${p#/proc/}" && return 0 ;;
        esac
    done
    return 1
}
usable() { echo probe >"$1/.probe" && [ "$(cat "$1/.probe")" = probe ] && rm "$1/.probe"; }
for i in 1 2 3; do
    m=$STATE/mnt$i
    mkdir -p "$m"
    echo "$m" >>"$STATE/mounts"
    timeout 60 mount -t glusterfs -o "log-file=$STATE/log/mnt$i.log" "$server:/$VOL" "$m"
    pid=$(fuse_pid_of "$m") || die "no glusterfs client process serves $m"
    echo "$pid" >"$STATE/fuse/mnt$i"
    mountpoint -q "$m" || die "$m is not a mount point after mount"
    wait_until 30 "$m to answer reads and writes" usable "$m"
done
grep -q " $STATE/mnt1 fuse.glusterfs " /proc/mounts || die "mnt1 is not a fuse.glusterfs mount"
say "mounted $server:/$VOL on mnt1, mnt2, mnt3 ($((SECONDS - started)) s)"

# --- the semantics first-commit-wins relies on, across clients -----------
m1=$STATE/mnt1
m2=$STATE/mnt2
m3=$STATE/mnt3
mkdir "$m1/semantics"
echo first >"$m1/semantics/staged-a"
ln "$m1/semantics/staged-a" "$m1/semantics/commit"
echo second >"$m2/semantics/staged-b"
if ln "$m2/semantics/staged-b" "$m2/semantics/commit" 2>/dev/null; then
    die "link() over an existing name succeeded through another client: commits could be overwritten"
fi
[ "$(cat "$m3/semantics/commit")" = first ] || die "a third client does not see the first commit"
python3 - "$m1/semantics/excl" "$m2/semantics/excl" <<'EOF' || die "O_CREAT|O_EXCL is not exclusive across clients"
import os, sys
os.close(os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
try:
    os.open(sys.argv[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    sys.exit(1)
except FileExistsError:
    pass
EOF
rm -r "$m1/semantics"
say "ok: exclusive create and link() refuse an existing name across clients"

# --- analyze from the mount == from local disk ---------------------------
events=${EVENTS:-200000}
gen() { "$SHOAL_BIN" gen "$1" --events "$events" --days 14 --seed 29 --files 4 --format "$2" >/dev/null; }
for format in csv parquet; do
    gen "$STATE/local/$format" "$format"
    gen "$m1/$format" "$format"
    diff -r "$STATE/local/$format" "$m2/$format" >/dev/null ||
        die "shoal gen wrote different $format bytes through the mount than to local disk"
done
say "ok: shoal gen writes identical files through the mount and to local disk"

analyze() { timeout 300 "$SHOAL_BIN" analyze "$@" --json --quiet; }
for format in csv parquet; do
    analyze "$STATE/local/$format" --threads 2 >"$STATE/$format.local.json"
    analyze "$m1/$format" --threads 2 >"$STATE/$format.mnt1.json"
    analyze "$m3/$format" --threads 1 >"$STATE/$format.mnt3.json"
    same "$STATE/$format.local.json" "$STATE/$format.mnt1.json" "analyze $format: mount == local disk"
    same "$STATE/$format.local.json" "$STATE/$format.mnt3.json" "analyze $format: another client == local disk"
done
jq -e --argjson n "$events" '.events == $n and .rejected == 0' "$STATE/csv.local.json" >/dev/null ||
    die "the report does not count $events events"

# --- a cluster whose nodes share the volume through different mounts -----
port=$(free_port 127.0.0.1)
pass=gl-$RUN_ID-$RANDOM
start_redis 127.0.0.1 "$port" "$pass"
COORD=redis://:$pass@127.0.0.1:$port
for i in 2 3; do
    "$SHOAL_BIN" worker --coord "$COORD" --store "$STATE/mnt$i/store" --slots 2 --name "gw$i" \
        --heartbeat-ttl 3s 2>"$STATE/log/worker$i.log" &
    record_pid "worker$i" $!
done
wait_until 30 "two workers to register" live_workers_are 2
say "workers gw2 (store on mnt2) and gw3 (store on mnt3) up; the driver uses mnt1"

cluster() {
    timeout 300 "$SHOAL_BIN" "$@" --json --quiet --coord "$COORD" --store "$m1/store" --worker-timeout 3s
}
for format in csv parquet; do
    cluster analyze "$m1/$format" >"$STATE/$format.cluster.json"
    same "$STATE/$format.local.json" "$STATE/$format.cluster.json" "cluster analyze $format over GlusterFS == embedded"
done
mkdir -p "$m1/texts"
for f in 1 2 3 4 5; do
    for i in $(seq 1 400); do echo "reef tide gull $((i % (f + 6))) kelp école shoal$((i % 3))"; done >"$m1/texts/t$f.txt"
done
timeout 300 "$SHOAL_BIN" wordcount "$m1/texts" --json --quiet --partitions 5 --top 50 >"$STATE/wc.embedded.json"
cluster wordcount "$m1/texts" --partitions 5 --top 50 >"$STATE/wc.cluster.json"
same "$STATE/wc.embedded.json" "$STATE/wc.cluster.json" "cluster wordcount over GlusterFS == embedded"
jobs=$(status_json | jq '[.jobs[] | select(.state == "succeeded")] | length')
[ "$jobs" -eq 3 ] || die "expected 3 succeeded jobs in shoal status, found $jobs"

left=$(find "$m2/store" -type f | head -5)
[ -z "$left" ] || die "files left in the store after the jobs: $left"
say "ok: the store holds no files once the jobs are done"
say "all GlusterFS checks passed in $((SECONDS - started)) s"
