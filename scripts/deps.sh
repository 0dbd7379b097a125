#!/usr/bin/env bash
# The one place that owns maxact's Debian package list. Idempotent: installs only what is missing.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also the test-only dependencies (GoogleTest, Python oracles)
#   scripts/deps.sh --bench  also the benchmark dependencies
#   scripts/deps.sh --fuzz   also clang and its libFuzzer / sanitizer runtimes (scripts/fuzz.sh)
set -euo pipefail

BUILD_PKGS=(g++ cmake make ninja-build pkg-config
  nlohmann-json3-dev libfmt-dev libcli11-dev libpcre2-dev libutf8proc-dev
  libopenblas-dev                 # sgemm for attention (linear layers use maxact's own kernel)
  zlib1g-dev                      # CRC-32 of the zip archives torch.load reads (exports)
  python3)                        # CMake locates it for the test suite
# Test-only: GoogleTest, the format check, and node + npm for the tokenizer parity reference
# (Hugging Face's tokenizers npm package, fetched at test time into a cache outside the repo).
# python3-numpy: the fixture generator; torch: the reference forward and the zoo's training.
# chromium: the HTML reports opened in a real browser (tests/html/).
# Open MPI: maxact builds with MPI when it finds it (optional); the suite runs mpirun -np 3.
TEST_PKGS=(libgtest-dev libgmock-dev clang-format python3-numpy python3-torch chromium
  libopenmpi-dev openmpi-bin)
command -v node >/dev/null 2>&1 || TEST_PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || TEST_PKGS+=(npm)
BENCH_PKGS=()  # the tokenizer benchmark needs node + npm too (added below when missing)
command -v node >/dev/null 2>&1 || BENCH_PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || BENCH_PKGS+=(npm)

FUZZ_PKGS=(clang libclang-rt-14-dev)

want=("${BUILD_PKGS[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${TEST_PKGS[@]}") ;;
    --bench) want+=("${BENCH_PKGS[@]}") ;;
    --fuzz) want+=("${FUZZ_PKGS[@]}") ;;
    *) echo "deps.sh: unknown option '$arg' (use --test, --bench or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
