# tests/python_env.sh - the virtual environment of the Python tests (and of
# benchmarks that need numpy/torch). Source it, then:
#
#   VENV=$(dvren_python_env) || echo "no Python environment: see stderr"
#   "$VENV/bin/python" -m pytest ...
#
# dvren_python_env [REQUIREMENTS] prints the path of a venv holding
# REQUIREMENTS (default python/requirements-test.txt; tests/test_saliency_opencv.sh
# passes tests/requirements-opencv.txt), creating it when it is missing:
#
#   ${DVREN_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dvren}/pyenv-<X.Y>-<hash>
#
# <X.Y> is the interpreter's version and <hash> the first 12 hex digits of the
# requirements file's sha256, so a changed file gets a new venv (delete old
# ones by hand). The venv is built as <path>.tmp.<pid> and renamed into place
# only when pip succeeded: a killed run never leaves half a venv. Renaming
# breaks the shebangs of its scripts, so always run <venv>/bin/python -m pip,
# -m pytest. On failure (no python3, no venv module, no network) it prints the
# reason on stderr, its last line a one-line summary, and returns 1.
#
# Variables: DVREN_PYTHON (interpreter, default python3), DVREN_PY_CACHE.

dvren_python_env() {
    local root py ver req hash dir tmp t0 log
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    py=${DVREN_PYTHON:-python3}
    req=${1:-$root/python/requirements-test.txt}
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) ||
        { echo "python_env: cannot run the interpreter '$py' (set DVREN_PYTHON)" >&2; return 1; }
    hash=$("$py" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:12])' "$req") ||
        { echo "python_env: cannot read $req" >&2; return 1; }
    dir=${DVREN_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dvren}/pyenv-$ver-$hash
    if [ -x "$dir/bin/python" ]; then
        echo "$dir"
        return 0
    fi

    # cold: build it beside its final place, then one rename
    mkdir -p "$(dirname "$dir")" || { echo "python_env: cannot create $(dirname "$dir")" >&2; return 1; }
    tmp=$dir.tmp.$$
    log=$tmp.log
    rm -rf "$tmp"
    t0=$(date +%s)
    echo "python_env: creating $dir (${req#$root/}; takes minutes)" >&2
    if ! "$py" -m venv "$tmp" >"$log" 2>&1; then
        cat "$log" >&2
        echo "python_env: '$py -m venv' failed (on Debian: apt-get install python3-venv)" >&2
        rm -rf "$tmp" "$log"
        return 1
    fi
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/bin/python" -m pip install -q -r "$req" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "python_env: pip could not install ${req#$root/} (no network?): $(grep -m1 '^ERROR' "$log" || tail -n1 "$log")" >&2
        rm -rf "$tmp" "$log"
        return 1
    fi
    rm -f "$log"
    # mv -T fails rather than moving into a venv that a parallel run finished first
    if ! mv -T "$tmp" "$dir" 2>/dev/null; then
        rm -rf "$tmp"
        [ -x "$dir/bin/python" ] || { echo "python_env: cannot move the new venv to $dir" >&2; return 1; }
    fi
    echo "python_env: created $dir in $(($(date +%s) - t0)) s" >&2
    echo "$dir"
}
