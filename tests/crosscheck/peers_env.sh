# Sourced by the cross-check and every benchmark: the peers' Python.
#
# One variable, SHOAL_PEERS_VENV, names the virtualenv the peers (DuckDB,
# redis-py, Dask, Ray, ...) run from; by default `.venv-peers` at the top of
# the repository (git-ignored). It is created when missing, and the modules
# a script asks for are installed into it when they are not there yet.
#
#   shoal_peers_python [MODULE[=PIP_PACKAGE]]...   # default: duckdb; sets PY
shoal_peers_python() {
    local root venv spec module package
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    venv=${SHOAL_PEERS_VENV:-$root/.venv-peers}
    [ $# -gt 0 ] || set -- duckdb
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating the peers' Python virtualenv in $venv" >&2
        python3 -m venv "$venv" || return 1
    fi
    for spec in "$@"; do
        module=${spec%%=*}
        package=${spec#*=}
        if ! "$venv/bin/python" -c "import $module" 2>/dev/null; then
            echo "installing $package into $venv" >&2
            "$venv/bin/pip" install --quiet "$package" || return 1
        fi
    done
    PY="$venv/bin/python"
}
