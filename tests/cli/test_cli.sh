#!/bin/sh
# The command line's contract: bad input gives one readable line on stderr,
# a nonzero exit, and no output file; --help tells the truth.
# usage: test_cli.sh PELKC SOURCE_DIR
. "$(dirname "$0")/lib.sh"

cat >"$T/bad.yaml" <<'YAML'
name: bad
input: {channels: 3, height: 32, width: 32}
stages: [{dim: 8, depth: 1, kernel: 8}]
YAML
expect_fail "$T/bad.yaml:3:37: kernel must be odd, got 8" "$T/m.so" \
    "$PELKC" compile "$T/bad.yaml" --random-weights 1 -o "$T/m.so"
expect_fail "$T/bad.yaml:3:37:" "" "$PELKC" check "$T/bad.yaml"
expect_fail "$T/bad.yaml:3:37:" "" "$PELKC" emit ir "$T/bad.yaml"
expect_fail "cannot open" "$T/m.so" "$PELKC" compile "$T/missing.yaml" --random-weights 1 -o "$T/m.so"

SPEC=$SRC/tests/specs/v12_one_stage_mlp2p5_nokpe.yaml
expect_fail "compile needs --weights" "$T/m.so" "$PELKC" compile "$SPEC" -o "$T/m.so"
expect_fail "compile needs -o" "" "$PELKC" compile "$SPEC" --random-weights 1
printf 'garbage' >"$T/w.safetensors"
expect_fail "not a safetensors file" "$T/m.so" "$PELKC" compile "$SPEC" --weights "$T/w.safetensors" -o "$T/m.so"
expect_fail "unknown option '--frobnicate'" "" "$PELKC" check "$SPEC" --frobnicate
expect_fail "unknown command 'frobnicate'" "" "$PELKC" frobnicate
expect_fail "--batch needs an integer" "" "$PELKC" run x.so --batch 0
expect_fail "emit needs what to emit" "" "$PELKC" emit asm "$SPEC"
expect_fail "emit needs a SPEC file" "" "$PELKC" emit ir
expect_fail "emit needs a SPEC file" "" "$PELKC" emit ptx
expect_fail "compile needs a SPEC file" "$T/m.so" "$PELKC" compile -o "$T/m.so" --random-weights 1
expect_fail "--sm must be 80 or 90, got '70'" "" "$PELKC" emit ptx "$SPEC" --sm 70
expect_fail "--target must be 'c', 'cuda' or 'cuda-emulate', got 'gpu'" "$T/m.so" \
    "$PELKC" compile "$SPEC" --random-weights 1 --target gpu -o "$T/m.so"
if "$PELKC" emit ptx "$SPEC" >/dev/null 2>&1; then # built with the GPU backend (PELKC_LLVM)
    expect_fail "the C compiler 'false' failed" "$T/m.so" \
        "$PELKC" compile "$SPEC" --random-weights 1 --target cuda -o "$T/m.so" --cc false
else
    expect_fail "built without LLVM 19" "$T/m.so" \
        "$PELKC" compile "$SPEC" --random-weights 1 --target cuda -o "$T/m.so"
fi
expect_fail "cannot load" "" "$PELKC" run "$T/none.so"
expect_fail "is not a pelkc model" "" "$PELKC" run /lib/x86_64-linux-gnu/libm.so.6

# a failing C compiler leaves no output behind
expect_fail "the C compiler 'false' failed" "$T/m.so" \
    "$PELKC" compile "$SPEC" --random-weights 1 -o "$T/m.so" --cc false

# a good model, then bad inputs to it
if "$PELKC" compile "$SPEC" --random-weights 1 -o "$T/m.so" >/dev/null; then ok; else bad "compile"; fi
/usr/bin/python3 -c "
import numpy as np
np.save('$T/wrong.npy', np.zeros((1, 4, 10, 10), np.float32))
np.save('$T/f64.npy', np.zeros((1, 4, 33, 29), np.float64))
np.save('$T/good.npy', np.random.default_rng().standard_normal((2, 4, 33, 29)).astype(np.float32))
"
expect_fail "input has shape [1, 4, 10, 10], expected [N, 4, " "$T/y.npy" \
    "$PELKC" run "$T/m.so" --input "$T/wrong.npy" --output "$T/y.npy"
expect_fail "dtype must be float32" "$T/y.npy" "$PELKC" run "$T/m.so" --input "$T/f64.npy" --output "$T/y.npy"
head -c 100 "$T/good.npy" >"$T/trunc.npy"
expect_fail "truncated" "$T/y.npy" "$PELKC" run "$T/m.so" --input "$T/trunc.npy" --output "$T/y.npy"
if "$PELKC" run "$T/m.so" --input "$T/good.npy" --output "$T/y.npy" >/dev/null &&
   /usr/bin/python3 -c "import numpy as np; y = np.load('$T/y.npy'); assert y.shape == (2, 10) and y.dtype == np.float32, y.shape"; then
    ok; else bad "run with a good input"; fi

# reproducible builds: the same spec and weights give byte-identical C and .so
"$PELKC" compile "$SPEC" --random-weights 7 -o "$T/r1.so" >/dev/null &&
"$PELKC" compile "$SPEC" --random-weights 7 -o "$T/r2.so" >/dev/null &&
cmp -s "$T/r1.so" "$T/r2.so" && ok || bad "two compiles of the same input differ"
"$PELKC" emit c "$SPEC" >"$T/c1" && "$PELKC" emit c "$SPEC" >"$T/c2" && cmp -s "$T/c1" "$T/c2" &&
    ok || bad "two emits of the same spec differ"

# --prefix renames every exported symbol, and run finds them with the same flag
if "$PELKC" compile "$SPEC" --random-weights 1 --prefix mynet_ -o "$T/p.so" >/dev/null; then ok; else bad "compile --prefix"; fi
if nm -D --defined-only "$T/p.so" | grep -q " mynet_pelkc_run_f32$" &&
   ! nm -D --defined-only "$T/p.so" | grep -q " pelkc_"; then ok; else bad "prefixed symbols"; fi
"$PELKC" run "$T/p.so" --prefix mynet_ >/dev/null && ok || bad "run --prefix"
expect_fail "with that --prefix: no symbol other_pelkc_create_abi" "" "$PELKC" run "$T/p.so" --prefix other_
expect_fail "--prefix must be a C identifier" "" "$PELKC" compile "$SPEC" --prefix "1-bad" -o "$T/q.so"

# help and version succeed and name every command
"$PELKC" --help >"$T/help" 2>&1 && ok || bad "--help exit code"
for cmd in check compile run "emit ir" "emit c" "emit ptx" --print-after-all --random-weights --weights \
           --target cuda-emulate --sm; do
    grep -qF -- "$cmd" "$T/help" && ok || bad "--help does not mention $cmd"
done
"$PELKC" --version | grep -q "^pelkc " && ok || bad "--version"

finish
