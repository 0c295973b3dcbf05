#!/bin/sh
# The main job on the bundled example: set up, check the PeLK-T spec, compile
# it (random weights) into a standalone .so, run it on a random input.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
SPEC=${1:-examples/pelk_t.yaml}
NAME=$(basename "$SPEC" .yaml)
echo "== pelkc check $SPEC"
build/pelkc check "$SPEC"
echo "== pelkc compile $SPEC --random-weights 1 -o build/$NAME.so"
build/pelkc compile "$SPEC" --random-weights 1 -o "build/$NAME.so"
echo "== pelkc run build/$NAME.so --output build/$NAME.logits.npy   (random input, seed 1)"
build/pelkc run "build/$NAME.so" --output "build/$NAME.logits.npy"
