#!/bin/sh
# Set up, build, and run the whole test suite (CTest).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cd build
ctest --output-on-failure -j "$(nproc)"
