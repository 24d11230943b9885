# Sourced by the cross-check and the benchmark: sets PY to a Python with
# DuckDB, creating a venv (outside the repo) when none exists.
shoal_peers_python() {
    local candidates=("${SHOAL_PEERS_VENV:-}" /work/.venv-peers "$HOME/.cache/shoal-venv")
    for venv in "${candidates[@]}"; do
        if [ -n "$venv" ] && [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
            PY="$venv/bin/python"
            return 0
        fi
    done
    local venv="${SHOAL_PEERS_VENV:-$HOME/.cache/shoal-venv}"
    echo "creating a Python venv with DuckDB in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet duckdb
    PY="$venv/bin/python"
}
