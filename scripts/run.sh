#!/usr/bin/env bash
# The README's run command: install dependencies, build in Release, run the main job on the
# built-in defaults. Until the scan engine lands, the main job is `maxact inspect` on a generated
# Gemma3-style fixture (multimodal-wrapped, 5:1 local/global attention).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMAXACT_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)"
demo=build-release/demo/gemma3_wrapped
/usr/bin/python3 tests/fixtures/make_fixture.py --family gemma3 --wrapped --out "$demo" >/dev/null
exec build-release/maxact inspect "$demo" "$@"
