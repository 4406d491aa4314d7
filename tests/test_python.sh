#!/usr/bin/env bash
# tests/test_python.sh - the Python package (python/): builds it into
# $DVREN_BUILD/python (python/build_native.py --with-python), runs the pytest
# tests of python/tests against that build, and checks that a wheel built by
# pip holds the native files and imports from outside the repository.
#
# Run from the repository root: bash tests/test_python.sh (tests/run.sh runs it).
# Prints one line per check: "PASS|FAIL|SKIP python_build",
# "... python/tests/<file>::<test>" (the pytest plugin
# python/tests/dvren_pytest_report.py writes those) and "... python_wheel_install".
# pytest's and pip's own output goes to stderr (tests/run.sh: build/test.log).
# The tests run in the cached venv of tests/python_env.sh; when it cannot be
# created (no network) they are SKIPped, with the reason. DVREN_PLUGIN_PATH is
# unset: the package must find its own plugins (dvren/_lib/plugins/).
#
# With DVREN_SANITIZE unset or 1, the tests run a second time against a
# build of libdvren.so and the plugins under AddressSanitizer and
# UndefinedBehaviorSanitizer ("python[san]/..." lines).
#
# Variables: DVREN_BUILD (default build), DVREN_PYTHON (default python3),
# DVREN_PY_CACHE (tests/python_env.sh), DVREN_DATA (passed to the tests).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
PKG=$B/python
unset DVREN_PLUGIN_PATH
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
. tests/python_env.sh

TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-python.XXXXXX") || { echo "FAIL python_build: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0
fail() { echo "FAIL $1"; nfail=$((nfail + 1)); }
# the first lines of a file, indented, on stderr (the details of a FAIL line)
detail() { head -n "${2:-30}" "$1" | sed 's/^/    /' >&2; }

# ---------------------------------------------------------------- build
# needs only the stdlib: runs without the venv, so a broken build is a FAIL even offline
if "${DVREN_PYTHON:-python3}" python/build_native.py "$PKG" --with-python 2>"$TOP/build.err"; then
    echo "PASS python_build"
else
    fail "python_build: python/build_native.py $PKG --with-python failed: $(grep -m1 -v '^build_native: compiling' "$TOP/build.err")"
    detail "$TOP/build.err" 40
    exit 1
fi

# ---------------------------------------------------------------- venv
if ! VENV=$(dvren_python_env 2>"$TOP/env.err"); then
    cat "$TOP/env.err" >&2
    why=$(tail -n 1 "$TOP/env.err"); why=${why#python_env: }
    echo "SKIP python/tests: no Python test environment: $why"
    echo "SKIP python_wheel_install: no Python test environment: $why"
    exit 0
fi
cat "$TOP/env.err" >&2 # the creation time, when it was created now
PY=$VENV/bin/python

# ---------------------------------------------------------------- pytest
# pytest's report goes to stderr; the plugin's PASS/FAIL/SKIP lines to fd 3 = stdout.
# --continue-on-collection-errors: a test file that does not import is one FAIL
# line, and the other files still run.
PYTHONPATH=$PKG:$ROOT/python/tests DVREN_PYTEST_REPORT_FD=3 "$PY" -m pytest -q -p dvren_pytest_report -p no:cacheprovider \
    --continue-on-collection-errors python/tests 3>&1 1>&2 | tee "$TOP/pytest.lines"
rc=$?
nfail=$((nfail + $(grep -c '^FAIL ' "$TOP/pytest.lines")))
# 0: all passed, 1: some failed (each has its FAIL line); anything else
# (no tests, usage error, internal error) has no line of its own
if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' "$TOP/pytest.lines"; }; then
    fail "python/pytest: pytest exited with status $rc (4: usage or conftest error, 5: no tests collected, >128: killed by a signal, a crash in libdvren.so?)"
fi

# ---------------------------------------------------------------- the same under ASan + UBSan
# libdvren.so and the plugins built with the sanitizers (as the C tests' second
# pass), loaded into the venv's interpreter with the runtimes preloaded; the
# examples (long fits) and the GPU tests are left to the first pass. Lines
# read "python[san]/...". DVREN_SANITIZE=0 skips it, as for the C tests.
ASAN_RT=$(${CC:-cc} -print-file-name=libasan.so 2>/dev/null); UBSAN_RT=$(${CC:-cc} -print-file-name=libubsan.so 2>/dev/null)
if [ "${DVREN_SANITIZE:-1}" != 0 ] && [ -f "$ASAN_RT" ] && [ -f "$UBSAN_RT" ]; then
    if CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
        "${DVREN_PYTHON:-python3}" python/build_native.py "$B/python-san" --with-python 2>"$TOP/san.err"; then
        LD_PRELOAD="$ASAN_RT $UBSAN_RT" ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            PYTHONPATH=$B/python-san:$ROOT/python/tests DVREN_PYTEST_REPORT_FD=3 DVREN_PYTEST_PREFIX="python[san]/" \
            "$PY" -m pytest -q -p dvren_pytest_report -p no:cacheprovider --continue-on-collection-errors \
            --ignore=python/tests/test_examples.py --ignore=python/tests/test_gpu.py python/tests 3>&1 1>&2 |
            tee "$TOP/san.lines"
        rc=$?
        nfail=$((nfail + $(grep -c '^FAIL ' "$TOP/san.lines")))
        if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' "$TOP/san.lines"; }; then
            fail "python[san]/pytest: pytest exited with status $rc under the sanitizers (a report above in the log?)"
        fi
    else
        fail "python[san]_build: the sanitizer build failed: $(head -n 1 "$TOP/san.err")"
        detail "$TOP/san.err"
    fi
fi

# ---------------------------------------------------------------- wheel
# pip builds in the source folder (python/build/, python/dvren.egg-info/):
# build from a copy of what the wheel needs, so the checkout stays clean and
# parallel runs do not meet. Then install the wheel into a bare folder and
# import it from outside the repository.
wheel_install() {
    local src=$TOP/src whl v want p f files problems=""
    mkdir -p "$src" "$TOP/wheel"
    tar -C "$ROOT" --exclude=python/build --exclude=python/dist --exclude='*.egg-info' \
        --exclude=__pycache__ --exclude=python/dvren/_lib -cf - dvren.h dvren_cuda.h tools plugins python |
        tar -C "$src" -xf - || { fail "python_wheel_install: cannot copy the sources"; return; }
    if ! "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$TOP/wheel" "$src/python" >"$TOP/wheel.log" 2>&1; then
        fail "python_wheel_install: pip wheel ./python failed"
        detail "$TOP/wheel.log" 40
        return
    fi
    whl=$(ls "$TOP"/wheel/dvren-*.whl)
    echo "python_wheel_install: $(basename "$whl"), $(du -k "$whl" | cut -f1) KiB" >&2
    case $whl in *-any.whl) problems="the wheel is tagged pure (any platform); " ;; esac
    "$PY" -m zipfile -l "$whl" >"$TOP/wheel.list"
    files=(libdvren.so)
    for p in plugins/*/; do
        p=$(basename "$p")
        files+=("plugins/$p.so")
        # a plugin that runs a program (external) has no device code
        [ -f "plugins/$p/${p}_device.h" ] && files+=("plugins/${p}_device.h")
    done
    for f in "${files[@]}"; do
        grep -q "^dvren/_lib/$f " "$TOP/wheel.list" || problems+="dvren/_lib/$f is not in the wheel; "
    done
    if ! "$PY" -m pip install -q --no-deps --target "$TOP/site" "$whl" >"$TOP/install.log" 2>&1; then
        fail "python_wheel_install: pip install --target of the wheel failed"
        detail "$TOP/install.log"
        return
    fi
    want=$(sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' python/dvren/_version.py)
    v=$(cd "$TOP" && PYTHONPATH=$TOP/site "$PY" -c 'import dvren; print(dvren.__version__)' 2>"$TOP/import.err")
    [ "$v" = "$want" ] ||
        problems+="import dvren from the installed wheel: $(tail -n 1 "$TOP/import.err" | cut -c1-200) (version '$v', expected '$want'); "
    if [ -z "$problems" ]; then
        echo "PASS python_wheel_install"
    else
        fail "python_wheel_install: ${problems%; }"
        detail "$TOP/import.err"
    fi
}
wheel_install

[ "$nfail" -eq 0 ]
