#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/) for SECONDS each (default 60), JOBS at a time
# (default 1), starting from the committed seed corpora. New inputs go to build-fuzz/corpus/,
# crashes to build-fuzz/crashes/<target>/; copy a crash into tests/fuzz/regressions/<target>/
# once fixed, so CI replays it forever.
#   scripts/fuzz.sh [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=${2:-1}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors config tokenizer corpus report)
scripts/deps.sh --fuzz
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMAXACT_FUZZ=ON -DMAXACT_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {
  local t=$1
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  # -timeout: an input taking over 60 s is a hang (wall time: generous, so a loaded machine does
  # not report false ones); -rss_limit_mb: memory blow-ups are findings.
  mkdir -p "tests/fuzz/grown/$t"
  build-fuzz/tests/fuzz/fuzz_"$t" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" "tests/fuzz/grown/$t" \
    -max_total_time="$seconds" -timeout=60 -report_slow_units=30 -rss_limit_mb=4096 -max_len=1048576 \
    -artifact_prefix="build-fuzz/crashes/$t/" -print_final_stats=1 \
    >"build-fuzz/$t.log" 2>&1 && echo "$t: clean" || echo "$t: FINDING (build-fuzz/$t.log)"
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "build-fuzz/$t.log" | sed "s/^/  $t /"
}
status=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || status=1; running=$((running - 1)); fi
done
wait || status=1
# slow-unit-* files are notes (an input slower than 30 s once, on a possibly loaded machine);
# crashes, leaks, hangs and memory blow-ups are findings.
find build-fuzz/crashes -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
  -o -name 'oom-*' \) 2>/dev/null | grep -q . && { echo "findings in build-fuzz/crashes/"; exit 1; }
exit $status
