#!/bin/sh
# Install pelkc's dependencies (Debian packages) and build it into build/.
# Safe to run again: installs only what is missing, rebuilds incrementally.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake libyaml-dev libcjson-dev libhalide14-0-dev
python3 python3-torch python3-numpy python3-yaml clang libclang-rt-14-dev
pkg-config libcairo2-dev libfontconfig-dev libtcc-dev tcc llvm-19-dev
dataset-fashion-mnist"

missing=""
for p in $PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "setup: built build/pelkc"
