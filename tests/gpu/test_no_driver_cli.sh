#!/bin/sh
# `pelkc run` on a --target cuda model without a CUDA driver ($PELKC_CUDA_LIBRARY
# points nowhere): exit 1 with one line naming the missing driver, no output file.
# Usage: test_no_driver_cli.sh PELKC MODEL.so
pelkc=$1
so=$2
out=$(mktemp -d)
"$pelkc" run "$so" --output "$out/y.npy" >"$out/stdout" 2>"$out/stderr"
rc=$?
cat "$out/stderr"
want="pelkc: cannot create the model: CUDA driver not found ($PELKC_CUDA_LIBRARY): "
ok=1
[ "$rc" -eq 1 ] || { echo "FAIL: exit status $rc, expected 1"; ok=0; }
[ "$(wc -l <"$out/stderr")" -eq 1 ] || { echo "FAIL: stderr is not one line"; ok=0; }
case "$(cat "$out/stderr")" in
"$want"*) ;;
*) echo "FAIL: expected a line starting with: $want"; ok=0 ;;
esac
[ ! -e "$out/y.npy" ] || { echo "FAIL: an output file was written"; ok=0; }
rm -rf "$out"
[ $ok -eq 1 ] && echo PASS
[ $ok -eq 1 ]
