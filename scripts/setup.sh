#!/bin/sh
# Install pelkc's dependencies (Debian packages) and build it into build/.
# Safe to run again: installs only what is missing, rebuilds incrementally.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake libyaml-dev libcjson-dev libhalide14-0-dev
python3 python3-torch libopenblas0-pthread python3-numpy python3-yaml python3-distributed
python3-matplotlib clang libclang-rt-14-dev
pkg-config libcairo2-dev libfontconfig-dev libtcc-dev tcc llvm-19-dev
dataset-fashion-mnist"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=""
for p in $PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# PyTorch's (and numpy's) matrix products call whatever the libblas.so.3 alternative points at:
# the reference BLAS (plain loops, 15-50x slower) unless OpenBLAS is installed and chosen. Debian
# chooses by priority (OpenBLAS 100, reference 10); a manual choice of the reference is undone here.
BLAS_ALT="libblas.so.3-$(gcc -dumpmachine)"
case "$(update-alternatives --query "$BLAS_ALT" 2>/dev/null | sed -n 's/^Value: //p')" in
    */blas/libblas.so.3)
        echo "setup: pointing $BLAS_ALT at OpenBLAS (it pointed at the reference BLAS)"
        $SUDO update-alternatives --set "$BLAS_ALT" "/usr/lib/$(gcc -dumpmachine)/openblas-pthread/libblas.so.3" ;;
esac

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "setup: built build/pelkc"
