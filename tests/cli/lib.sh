# The command-line tests' common part, sourced by test_cli.sh, test_tcc.sh and
# test_llvm.sh after their usage line: the arguments, a scratch directory T
# (removed on exit), the counters and the checks.
# usage: . "$(dirname "$0")/lib.sh"   (the script's arguments: PELKC SOURCE_DIR)
PELKC=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect_fail WANT_SUBSTRING OUTPUT_FILE_THAT_MUST_NOT_EXIST CMD...
# (the error contract: exit status 1, one line on stderr saying WANT, nothing written;
# OUTPUT_FILE "" when the command writes none)
expect_fail() {
    want=$1; out=$2; shift 2
    "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    lines=$(wc -l <"$T/stderr")
    if [ $rc -ne 1 ]; then bad "exit $rc (want 1) from: $*"; cat "$T/stderr" >&2; return; fi
    if [ "$lines" -ne 1 ]; then bad "$lines lines on stderr from: $*"; cat "$T/stderr" >&2; return; fi
    if ! grep -qF -- "$want" "$T/stderr"; then bad "stderr lacks '$want': $(cat "$T/stderr")"; return; fi
    if [ -n "$out" ] && [ -e "$out" ]; then bad "$out was written by: $*"; return; fi
    ok
}

# The last line of a test: the counts; the exit status says whether all passed.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
