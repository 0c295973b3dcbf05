#!/bin/sh
# The fold passes leave no training-time op behind: after the pipeline a
# checkpoint with BatchNorms and small kernels compiles to the same op list as
# one without (numerics are checked by the numeric_fold_* tests).
# usage: test_folds.sh PELKC SOURCE_DIR PYTHON
PELKC=$1; SRC=$2; PY=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SPEC=$SRC/tests/specs/v04_rows_cols_asym_lists_border.yaml
passed=0; failed=0
for parts in "--bn" "--small 3" "--bn --small 7"; do
    $PY "$SRC/tests/ref/pelk_ref.py" weights "$SPEC" --seed 5 $parts -o "$T/w.safetensors" >/dev/null
    "$PELKC" emit ir "$SPEC" --weights "$T/w.safetensors" >"$T/ir" || { failed=$((failed+1)); continue; }
    if grep -qE "= (batchnorm|dwconv|periph_conv)\(|\{g=[0-9]+\}$" "$T/ir"; then
        echo "FAIL ($parts): training-time ops left after the folds:" >&2
        grep -E "= (batchnorm|dwconv|periph_conv)\(" "$T/ir" | head -3 >&2
        failed=$((failed+1))
    else
        passed=$((passed+1))
    fi
    # the before-fold IR does have them
    "$PELKC" emit ir "$SPEC" --weights "$T/w.safetensors" --print-after-all | sed -n '1,/after fold-bn/p' >"$T/before"
    if grep -qE "= (batchnorm|dwconv)\(" "$T/before"; then passed=$((passed+1)); else
        echo "FAIL ($parts): the built IR has no training-time ops" >&2; failed=$((failed+1)); fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
