#!/usr/bin/env bash
# Configures the clang-14 build with ASan, UBSan and the libFuzzer targets in DIR (default
# build-sanitize), shared by scripts/test.sh --sanitize and scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="${1:-build-sanitize}"
# -O1 keeps the sanitized tests fast enough to run in CI while the reports stay exact.
cmake -S . -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DRESPALDO_WERROR=ON -DRESPALDO_FUZZ=ON
