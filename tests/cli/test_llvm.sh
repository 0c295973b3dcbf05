#!/bin/sh
# The LLVM backend's command line: emit llvm prints a module, compile --backend
# llvm writes a standalone .so (no libLLVM, the C API, --prefix honoured), run
# and bench JIT-compile a SPEC, bad input gives one line and writes nothing.
# usage: test_llvm.sh PELKC SOURCE_DIR
. "$(dirname "$0")/lib.sh"

SPEC=$SRC/tests/specs/v12_one_stage_mlp2p5_nokpe.yaml
# the module: run_batch (a matrix product once per chunk), a specialised box_gather in vectors,
# the descriptor; no weights
"$PELKC" emit llvm "$SPEC" >"$T/m.ll" 2>"$T/err" || bad "emit llvm: $(cat "$T/err")"
for want in "define internal void @run_batch(" "_box_gather(" "@llvm.fmuladd.v" \
            "@pelkc_desc = hidden constant" "call void @pkl_gemm_run(" "target triple"; do
    if grep -qF "$want" "$T/m.ll"; then ok; else bad "emit llvm lacks '$want'"; fi
done
# the weights are a declaration, filled in at link time (or by the JIT), never a printed initialiser
if grep -q '^@pelkc_weights = external hidden global \[0 x i8\]' "$T/m.ll" &&
   ! awk 'length > 10000 { found = 1 } END { exit !found }' "$T/m.ll"; then ok
else bad "emit llvm printed the weights?"; fi
"$PELKC" emit ir "$SPEC" --print-after-all >"$T/passes" && grep -q "after lower-periph" "$T/passes" \
    && ok || bad "emit ir --print-after-all"
"$PELKC" emit llvm "$SPEC" --print-after-all >"$T/both" && grep -q "after fuse-box-gather" "$T/both" &&
    grep -q "define internal void @run_batch(" "$T/both" && ok || bad "emit llvm --print-after-all"

# a standalone .so: the C API, no LLVM at run time
if "$PELKC" compile "$SPEC" --random-weights 1 --backend llvm -o "$T/m.so" >/dev/null; then ok
else bad "compile --backend llvm"; fi
if ldd "$T/m.so" | grep -q LLVM; then bad "the .so links LLVM"; else ok; fi
"$PELKC" run "$T/m.so" --batch 2 --threads 2 >"$T/run_so" && ok || bad "run the llvm .so"
# the JIT on the same weights and input gives the same top classes
"$PELKC" run "$SPEC" --backend llvm --random-weights 1 --batch 2 --threads 2 >"$T/run_jit" \
    && ok || bad "run --backend llvm"
if [ "$(grep "top" "$T/run_so")" = "$(grep "top" "$T/run_jit")" ]; then ok
else bad "the .so and the JIT disagree: $(grep top "$T/run_so") / $(grep top "$T/run_jit")"; fi
"$PELKC" bench "$SPEC" --backend llvm --iters 2 | grep -q "^median_ms: " && ok || bad "bench --backend llvm"

# --prefix renames every exported symbol at link time
if "$PELKC" compile "$SPEC" --random-weights 1 --backend llvm --prefix net_ -o "$T/p.so" >/dev/null &&
   [ "$(nm -D --defined-only "$T/p.so" | grep -c " net_pelkc_")" -eq 14 ] &&
   ! nm -D --defined-only "$T/p.so" | grep -q " pelkc_"; then ok; else bad "compile --backend llvm --prefix"; fi
"$PELKC" run "$T/p.so" --prefix net_ >/dev/null && ok || bad "run --prefix on an llvm .so"
# --march generic: the generic runtime library and x86-64 code
"$PELKC" compile "$SPEC" --random-weights 1 --backend llvm --march generic -o "$T/g.so" >/dev/null &&
    "$PELKC" run "$T/g.so" >/dev/null && ok || bad "--march generic"

expect_fail "--backend must be 'c' or 'llvm', got 'gcc'" "$T/x.so" \
    "$PELKC" compile "$SPEC" --random-weights 1 --backend gcc -o "$T/x.so"
expect_fail "the LLVM backend targets --march native or generic" "$T/x.so" \
    "$PELKC" compile "$SPEC" --random-weights 1 --backend llvm --march haswell -o "$T/x.so"
expect_fail "the linker driver 'false' failed" "$T/x.so" \
    "$PELKC" compile "$SPEC" --random-weights 1 --backend llvm --cc false -o "$T/x.so"
expect_fail "run needs --weights W.safetensors or --random-weights SEED" "" \
    "$PELKC" run "$SPEC" --backend llvm
expect_fail "run needs a compiled model M.so or a SPEC" "" "$PELKC" run --backend llvm
expect_fail "run --backend llvm compiles a SPEC; run M.so without --backend" "" \
    "$PELKC" run "$T/m.so" --backend llvm
expect_fail "cannot open" "" "$PELKC" run "$T/missing.yaml" --backend llvm --random-weights 1
ls "$T"/*.partial >/dev/null 2>&1 && bad "a .partial file was left behind" || ok

finish
