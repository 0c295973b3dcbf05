#!/bin/sh
# Set up, build, and run the whole test suite (CTest) twice: in the normal
# build, then in a build with AddressSanitizer, UBSan and LeakSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
echo "== tests (build/)"
(cd build && ctest --output-on-failure -j "$(nproc)")
echo "== tests under ASan + UBSan + LSan (build-asan/)"
cmake -S . -B build-asan -DPELKC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$(nproc)" >/dev/null
cd build-asan
ctest --output-on-failure -j "$(nproc)"
