#!/usr/bin/env bash
# The README's test command: install dependencies (test-only ones included), build with
# AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAXACT_SANITIZE=ON -DMAXACT_WERROR=ON \
  -DMAXACT_BUILD_TESTS=ON >/dev/null
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-test --output-on-failure -j"$(nproc)"
