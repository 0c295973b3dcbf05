#!/bin/sh
# The main job on the bundled example: set up, check the PeLK-T spec, compile
# it (random weights) into a standalone .so, run it on a random input; then
# compile the trained Fashion-MNIST PeLK (examples/fashion_mnist.*) and classify
# the 10,000 test images with it and with PyTorch (accuracy, images per second).
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
echo "== Fashion-MNIST: the trained PeLK (examples/fashion_mnist.yaml + .safetensors), compiled, on the test set"
/usr/bin/python3 python/classify_fashion_mnist.py --so build/fashion_mnist.so
