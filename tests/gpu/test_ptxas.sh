#!/bin/sh
# Every PTX module `pelkc emit ptx` writes for the example and variant specs
# (and with --periph dense) is accepted by NVIDIA's assembler for sm_80 and
# sm_90, and holds one .entry per kernel the header lists.
# Usage: test_ptxas.sh PELKC SOURCE_DIR [OUT_DIR]
# Exit 77 (skipped, with the reason) when no ptxas is installed.
pelkc=$1
src=$2
out=${3:-$(mktemp -d)}
PTXAS=$(command -v ptxas 2>/dev/null || true)
[ -z "$PTXAS" ] && [ -x /usr/local/cuda/bin/ptxas ] && PTXAS=/usr/local/cuda/bin/ptxas
if [ -z "$PTXAS" ]; then
    echo "SKIP: no ptxas on PATH or in /usr/local/cuda/bin (install the CUDA toolkit to run this test)"
    exit 77
fi
echo "ptxas: $PTXAS ($("$PTXAS" --version | tail -1))"
mkdir -p "$out"
fail=0
n=0
check() { # name sm spec [options]
    name=$1 sm=$2 spec=$3
    shift 3
    ptx="$out/${name}_sm$sm.ptx"
    if ! "$pelkc" emit ptx "$spec" --sm "$sm" "$@" >"$ptx"; then
        echo "FAIL: pelkc emit ptx $spec --sm $sm $*"
        fail=1
        return
    fi
    kernels=$(sed -n 's|^// .*: \([0-9]*\) kernels,.*|\1|p' "$ptx" | head -1)
    entries=$(grep -c '^\.visible \.entry' "$ptx")
    if [ "$kernels" != "$entries" ] || ! grep -q "^\.target sm_$sm\$" "$ptx"; then
        echo "FAIL: $ptx: $entries entries for $kernels kernels, or not .target sm_$sm"
        fail=1
        return
    fi
    if ! "$PTXAS" -arch="sm_$sm" "$ptx" -o "$out/${name}_sm$sm.cubin" 2>"$out/${name}_sm$sm.log"; then
        echo "FAIL: ptxas -arch=sm_$sm rejects $ptx:"
        head -5 "$out/${name}_sm$sm.log"
        fail=1
        return
    fi
    n=$((n + 1))
}
for file in "$src"/tests/specs/*.yaml "$src"/examples/*.yaml; do
    for sm in 80 90; do
        check "$(basename "$file" .yaml)" "$sm" "$file"
    done
done
for base in v01_list_grid_border v06_kernel_gt_map_nonsquare_border; do
    for sm in 80 90; do
        check "${base}_dense" "$sm" "$src/tests/specs/$base.yaml" --periph dense
    done
done
echo "$n PTX modules accepted by ptxas"
exit $fail
