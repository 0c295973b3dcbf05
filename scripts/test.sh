#!/bin/sh
# Set up, build, and run the whole test suite (CTest) twice: in the normal
# build, then in a build with AddressSanitizer, UBSan and LeakSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
echo "== tests (build/)"
(cd build && ctest --output-on-failure -j "$(nproc)")
echo "== tests under ASan + UBSan + LSan (build-asan/), with a one-minute libFuzzer run per parser"
cmake -S . -B build-asan -DPELKC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DPELKC_FUZZ=ON \
      -DPELKC_FUZZ_SECONDS=60 >/dev/null
cmake --build build-asan -j "$(nproc)" >/dev/null
cd build-asan
# Every test but the two that run the full 224x224 PeLK-T (numeric_pelk_t and its GPU-emulation
# twin): unoptimised and instrumented they take many minutes, and every code path they take is
# also taken by the PeLK-T-shaped mini spec (v13) and the other variants, which do run here.
ctest --output-on-failure -j "$(nproc)" -E '^numeric_(cuda_emulate_)?pelk_t$'
