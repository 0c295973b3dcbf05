#!/bin/sh
# In-process compilation with libtcc (`pelkc run SPEC`): the generated C is valid for tcc, the
# system cc and clang; the run says which compiler built the code; errors keep the contract.
# (The outputs are checked against the float64 reference by the numeric_tcc_* and
# numeric_clang_* tests, through tests/ref/check_model.py --compiler.)
# usage: test_tcc.sh PELKC SOURCE_DIR
. "$(dirname "$0")/lib.sh"

# the orchestration C (--cc tcc) and the specialised C, by each of the three compilers
for spec in v04_rows_cols_asym_lists_border v13_pelk_t_mini_default_grid; do
    S=$SRC/tests/specs/$spec.yaml
    "$PELKC" emit c "$S" --cc tcc >"$T/host.c" || bad "emit c --cc tcc $spec"
    "$PELKC" emit c "$S" >"$T/spec.c" || bad "emit c $spec"
    grep -q '#include "pelkc_host.h"' "$T/host.c" && ! grep -q vector_size "$T/host.c" ||
        bad "$spec: tcc code is not the orchestration form"
    for cc in "tcc" "cc -std=c11" "clang -std=c11"; do
        if $cc -Wall -Werror -I"$SRC/runtime" -c "$T/host.c" -o "$T/host.o" 2>"$T/err"; then ok
        else bad "$cc rejects the tcc-form C of $spec: $(head -3 "$T/err")"; fi
    done
    for cc in "cc" "clang"; do
        if $cc -std=gnu11 -O1 -fopenmp -I"$SRC/runtime" -c "$T/spec.c" -o "$T/spec.o" 2>"$T/err"; then ok
        else bad "$cc rejects the specialised C of $spec: $(head -3 "$T/err")"; fi
    done
done

# which compiler built the code is said, and the run gives a top-5 line
S=$SRC/tests/specs/v13_pelk_t_mini_default_grid.yaml
out=$("$PELKC" run "$S" --random-weights 3 2>&1)
echo "$out" | grep -q "by libtcc in process" && echo "$out" | grep -q "^image 0, top 5 classes:" &&
    ok || bad "run SPEC (tcc): $out"
out=$("$PELKC" run "$S" --random-weights 3 --cc cc 2>&1)
echo "$out" | grep -q "by cc -O3" && echo "$out" | grep -q "^image 0, top 5 classes:" &&
    ok || bad "run SPEC --cc cc: $out"
out=$("$PELKC" bench-conv --kernel 13 --grid '{center: 3, base: 2}' --channels 4 --size 8x8 --iters 2 --cc tcc 2>&1)
echo "$out" | grep -q "^built by: libtcc in process" && ok || bad "bench-conv --cc tcc: $out"

# errors: one line, exit 1, nothing written
expect_fail "run needs --weights W.safetensors or --random-weights SEED" "" "$PELKC" run "$S"
expect_fail "compile --cc tcc: tcc compiles in process" "$T/m.so" \
    "$PELKC" compile "$S" --random-weights 1 -o "$T/m.so" --cc tcc
cat >"$T/bad.yaml" <<'YAML'
name: bad
input: {channels: 3, height: 32, width: 32}
stages: [{dim: 8, depth: 1, kernel: 9, grid: [4, 1, 3]}]
YAML
expect_fail "$T/bad.yaml:3:" "" "$PELKC" run "$T/bad.yaml" --random-weights 1

finish
