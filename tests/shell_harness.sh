# tests/shell_harness.sh - the helpers of dvren's shell tests (tests/test_*.sh),
# sourced by each after it sets NAME (the test's name), TOP (its scratch
# folder), BIN (the program under test) and nfail=0:
#
#   begin CASE    a fresh working folder $W and the files $OUT and $ERR;
#                 problems found go into $PROBLEMS
#   problem MSG   records a problem of the current case
#   finish        prints "PASS $NAME/CASE", or "FAIL $NAME/CASE: problems"
#                 with the first [ERROR] lines (else the last lines) of
#                 stderr, and counts failures in nfail; a doubled prefix in
#                 stderr ("dvren_render: dvren_render: ...") is a problem
#   run ARGS...   runs $BIN in $W; sets RC, keeps stdout in $OUT and stderr in $ERR
#   expect_rc N   the exit status must be N
#
# A test prints one PASS/FAIL/SKIP line per case (tests/run.sh counts them)
# and exits with status 1 when nfail > 0.
begin() {
    CASE=$1
    W=$(mktemp -d "$TOP/$1.XXXXXX")
    PROBLEMS=""
    OUT=$TOP/$1.stdout
    ERR=$TOP/$1.stderr
}
problem() { PROBLEMS="${PROBLEMS:+$PROBLEMS; }$1"; }
finish() {
    grep -qE '(^|\] |: )([A-Za-z_.]+): \2: ' "$ERR" 2>/dev/null &&
        problem "a doubled prefix in: $(grep -m 1 -E '(^|\] |: )([A-Za-z_.]+): \2: ' "$ERR")"
    if [ -z "$PROBLEMS" ]; then
        echo "PASS $NAME/$CASE"
    else
        nfail=$((nfail + 1))
        echo "FAIL $NAME/$CASE: $PROBLEMS"
        { grep -m 4 "\[ERROR\]" "$ERR" || tail -n 4 "$ERR"; } 2>/dev/null | sed "s/^/    stderr: /"
    fi
}
run() {
    (cd "$W" && "$BIN" "$@") >"$OUT" 2>"$ERR"
    RC=$?
}
expect_rc() { [ "$RC" -eq "$1" ] || problem "exit status $RC, expected $1"; }
