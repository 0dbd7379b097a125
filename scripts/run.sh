#!/usr/bin/env bash
# The README's run command: install dependencies, build in Release, run the main job on the
# built-in defaults: `maxact scan` over the built-in multi-domain corpus. No open-weight model is
# downloaded here, so the model is a generated Gemma3-style checkpoint in the genuine Hugging Face
# multimodal layout (5:1 local/global attention) with a byte-level tokenizer.json; point
# `build-release/maxact scan` at any supported model folder or hub-cache id for real numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMAXACT_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)"
demo=build-release/demo/gemma3_tok
/usr/bin/python3 tests/fixtures/make_fixture.py --family gemma3 --wrapped --tokenizer --out "$demo" >/dev/null
exec build-release/maxact scan "$demo" -o build-release/demo/scan.json --csv build-release/demo/scan.csv "$@"
