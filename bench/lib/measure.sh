# Sourced by the benchmarks that time one process each side with GNU time
# (bench/array_sort.sh, bench/reduce_big.sh).

# budget_bytes SIZE: SIZE (`512MiB`, `1GiB` or a byte count) in bytes.
budget_bytes() {
    case $1 in
        *GiB) echo $(( ${1%GiB} << 30 )) ;;
        *MiB) echo $(( ${1%MiB} << 20 )) ;;
        *) echo "$1" ;;
    esac
}

# release_example PACKAGE NAME: builds the example in release and prints
# the binary's path.
release_example() {
    (cd "$root" && cargo build --quiet --release -p "$1" --example "$2") || return 1
    echo "${CARGO_TARGET_DIR:-$root/target}/release/examples/$2"
}

# wall_rss FILE: "wall_seconds rss_mib" from GNU time's report.
wall_rss() {
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; w=s}
                /Maximum resident set size/ {r=$2/1024} END {print w, r}' "$1"
}

# load: the load averages, for the figures' context.
load() {
    cut -d' ' -f1-3 /proc/loadavg
}
