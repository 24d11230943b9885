#!/usr/bin/env bash
# Benchmark: `shoal map` vs the classic single-machine streaming pipeline,
# with the same Python word-count mapper and reducer:
#
#   shoal map DATA --mapper 'python3 mapper.py' --reducer 'python3 reducer.py' --threads 2
#   cat FILES | python3 mapper.py | LC_ALL=C sort -S 1G --parallel=2 | python3 reducer.py
#
# over ~500 MB of generated text (8 files; the issue's figure). Prints
# median wall times side by side with the ratio (target: Shoal <= 0.6x the
# pipeline), checks that both produce the same counts, and reports Shoal's
# own peak RSS (without its child processes, from --stats).
#
# Python runs with its default (block) buffering on both sides: the
# environment's PYTHONUNBUFFERED is unset, since a write(2) per printed
# word would make both sides measure the kernel's pipes rather than the
# scripts (set MAP_BENCH_UNBUFFERED=1 to keep it and compare that way).
#
#   bench/map.sh                # ~500 MB, 3 runs each (about 15 minutes)
#   bench/map.sh --quick        # ~200 MB, 1 run each: a check in a few minutes
#   bench/map.sh --runs 5
#   bench/map.sh --big          # also Shoal alone over ~5 GB (the same files
#                               # ten times, as symlinks): peak RSS must stay < 1 GB
#   bench/map.sh --mb 100       # any other size
#   bench/map.sh --keep-data    # keep the generated text for the next run
# The text goes to bench/data (gitignored) and is deleted at the end unless
# --keep-data (a kept copy is reused). Disk: the text, plus Shoal's spilled
# shuffle (about 1.3x the text, 13x with --big) while a run lasts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=3
big=0
threads=2
mb=500
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --big) big=1; shift ;;
        --threads) threads=$2; shift 2 ;;
        --mb) mb=$2; shift 2 ;;
        --quick) mb=200; runs=1; shift ;;
        --keep-data) keep=1; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done

(cd "$root" && cargo build --quiet --release -p shoal-cli --bin shoal)
shoal="${CARGO_TARGET_DIR:-$root/target}/release/shoal"
data="$root/bench/data/map-text-${mb}MB"
work="$root/bench/out/map"
mkdir -p "$work"
cleanup() {
    if [ "$keep" = 0 ]; then rm -rf "$data" "$root/bench/data/map-text-5GB"; fi
}
trap cleanup EXIT
echo "load at start: $(uptime)" >&2
if [ "${MAP_BENCH_UNBUFFERED:-0}" != 1 ]; then unset PYTHONUNBUFFERED; fi

cat > "$work/mapper.py" <<'EOF'
import sys
for line in sys.stdin:
    for word in line.split():
        print(word + "\t1")
EOF
cat > "$work/reducer.py" <<'EOF'
import sys
current, total = None, 0
for line in sys.stdin:
    word, count = line.rstrip("\n").split("\t", 1)
    if word != current:
        if current is not None:
            print(current + "\t" + str(total))
        current, total = word, 0
    total += int(count)
if current is not None:
    print(current + "\t" + str(total))
EOF

if [ ! -f "$data/.done" ]; then
    rm -rf "$data" && mkdir -p "$data"
    free_mb=$(df -Pm "$root/bench" | awk 'NR == 2 {print $4}')
    if [ "$free_mb" -lt $((mb * 4)) ]; then
        echo "only ${free_mb} MB free under bench/: need about $((mb * 4)) MB" >&2
        exit 1
    fi
    echo "generating ~${mb} MB of text into $data" >&2
    python3 - "$data" "$mb" <<'EOF'
import random, sys
out, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(50000)]
weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like
per_file = mb * 1_000_000 // 8
for f in range(8):
    with open(f"{out}/text-{f}.txt", "w") as fh:
        written = 0
        while written < per_file:
            words = rng.choices(vocab, weights, k=200_000)
            lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
            block = "\n".join(lines) + "\n"
            fh.write(block)
            written += len(block)
EOF
    touch "$data/.done"
fi
files=("$data"/text-*.txt)

elapsed() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN {print a - b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

shoal_walls=() pipe_walls=() rss=()
for run in $(seq "$runs"); do
    echo "run $run/$runs: shoal map" >&2
    start=$(date +%s.%N)
    (cd "$work" && "$shoal" map "$data" --mapper 'python3 mapper.py' --reducer 'python3 reducer.py' \
        --ship mapper.py --ship reducer.py --threads "$threads" --out "$work/shoal-out" --overwrite \
        --quiet --stats "$work/stats.json")
    shoal_walls+=("$(elapsed "$start")")
    rss+=("$(python3 -c "import json; print(json.load(open('$work/stats.json'))['peak_rss_bytes'] / 1e6)")")
    echo "run $run/$runs: pipeline" >&2
    start=$(date +%s.%N)
    (cd "$work" && cat "${files[@]}" | python3 mapper.py | LC_ALL=C sort -S 1G --parallel=2 \
        | python3 reducer.py > "$work/pipe-out.txt")
    pipe_walls+=("$(elapsed "$start")")
done

LC_ALL=C sort "$work"/shoal-out/part-* > "$work/shoal-sorted.txt"
if ! cmp -s "$work/shoal-sorted.txt" "$work/pipe-out.txt"; then
    echo "OUTPUTS DIFFER: $work/shoal-sorted.txt vs $work/pipe-out.txt" >&2
    exit 1
fi
echo "outputs identical ($(wc -l < "$work/pipe-out.txt") words)" >&2

s=$(printf '%s\n' "${shoal_walls[@]}" | median)
p=$(printf '%s\n' "${pipe_walls[@]}" | median)
r=$(printf '%s\n' "${rss[@]}" | median)
echo
buffering=block; if [ -n "${PYTHONUNBUFFERED:-}" ]; then buffering=unbuffered; fi
echo "word count, python mapper + reducer ($buffering stdout), $(du -sh "$data" | cut -f1) of text, median of $runs runs ($(uptime | sed 's/.*load/load/'))"
printf '%-44s %10s %10s\n' "" "wall s" "ratio"
printf '%-44s %10.2f %10.3f  (target <= 0.6)\n' "shoal map --threads $threads" "$s" "$(ratio "$s" "$p")"
printf '%-44s %10.2f %10s\n' "cat | mapper | sort --parallel=2 | reducer" "$p" "1.000"
printf '%-44s %10.0f MB (own peak RSS, without children)\n' "shoal peak RSS" "$r"

if [ "$big" = 1 ]; then
    bigdir="$root/bench/data/map-text-5GB"
    if [ ! -f "$bigdir/.done" ]; then
        rm -rf "$bigdir" && mkdir -p "$bigdir"
        for copy in $(seq 0 9); do
            for f in "${files[@]}"; do ln -s "$f" "$bigdir/c$copy-$(basename "$f")"; done
        done
        touch "$bigdir/.done"
    fi
    echo "shoal map over $(du -shLl "$bigdir" | cut -f1) (du -l: each symlinked copy counted)" >&2
    start=$(date +%s.%N)
    (cd "$work" && "$shoal" map "$bigdir" --mapper 'python3 mapper.py' --reducer 'python3 reducer.py' \
        --ship mapper.py --ship reducer.py --threads "$threads" --out "$work/shoal-big" --overwrite \
        --quiet --stats "$work/stats-big.json")
    b=$(elapsed "$start")
    big_rss=$(python3 -c "import json; print(json.load(open('$work/stats-big.json'))['peak_rss_bytes'] / 1e6)")
    # The ~5 GB input is the same files ten times over: every count must be
    # ten times the pipeline's count over one copy.
    LC_ALL=C sort "$work"/shoal-big/part-* > "$work/shoal-big-sorted.txt"
    awk -F'\t' -v OFS='\t' '{print $1, $2 * 10}' "$work/pipe-out.txt" > "$work/pipe-out-x10.txt"
    if ! cmp -s "$work/shoal-big-sorted.txt" "$work/pipe-out-x10.txt"; then
        echo "~5 GB OUTPUT WRONG: $work/shoal-big-sorted.txt is not ten times $work/pipe-out.txt" >&2
        exit 1
    fi
    echo "~5 GB output: every count is ten times the pipeline's ($(wc -l < "$work/shoal-big-sorted.txt") words)" >&2
    big_spilled=$(python3 -c "import json; print(json.load(open('$work/stats-big.json'))['bytes_spilled'] / 1e6)")
    printf '%-44s %10.2f s, own peak RSS %.0f MB (limit 1000 MB), spilled %.0f MB\n' \
        "shoal map over ~5 GB" "$b" "$big_rss" "$big_spilled"
fi
