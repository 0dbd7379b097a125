#!/usr/bin/env bash
# The README's run command: install dependencies, build in Release, run the main job on the
# built-in defaults: `maxact scan` of the zoo's default model (zoo/gemma3-tiny, trained by the
# project on the built-in corpus, committed in Hugging Face layout) over the built-in
# multi-domain corpus, writing the JSON report, the per-tap CSV and the HTML report (open it in a
# browser; it needs no network). Nothing is downloaded. Point `build-release/maxact scan` at any supported
# model folder or hub-cache id for other models; extra arguments are passed to the scan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMAXACT_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)"
mkdir -p build-release/zoo
# --max-seq-len 512: the zoo models were trained on 512-token pieces (their context length).
exec build-release/maxact scan zoo/gemma3-tiny --max-seq-len 512 \
  -o build-release/zoo/gemma3-tiny.json --csv build-release/zoo/gemma3-tiny.csv \
  --html build-release/zoo/gemma3-tiny.html "$@"
