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
# Every test but those labelled full_size (the 224x224 PeLK-T runs) and backend_sweep (the LLVM,
# GPU-emulation and PyTorch-module repetitions over the variant specs beyond v04 and v13): see
# tests/CMakeLists.txt. Unoptimised and instrumented they would take most of CI's time, and the
# code paths they take are taken here by the runs that remain.
ctest --output-on-failure -j "$(nproc)" -LE 'full_size|backend_sweep'
