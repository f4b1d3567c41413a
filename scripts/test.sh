#!/usr/bin/env bash
# Installs what is missing, checks formatting, builds respaldo (Release, warnings as errors) and runs
# every test through CTest: C++ unit and loopback tests, the black-box tests of the binary against
# the app and Drive test doubles, and the OpenAPI lint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install_deps.sh
scripts/check_format.sh
build_dir="${RESPALDO_BUILD_DIR:-build}"
cmake -S . -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRESPALDO_WERROR=ON
cmake --build "${build_dir}" -j "$(nproc)"
ctest --test-dir "${build_dir}" --output-on-failure -j 2 "$@"
