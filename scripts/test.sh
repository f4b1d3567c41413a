#!/usr/bin/env bash
# Installs what is missing, checks formatting, builds respaldo (Release, warnings as errors) and runs
# every test through CTest: C++ unit and loopback tests, the black-box tests of the binary against
# the app and Drive test doubles, and the OpenAPI lint.
#
#   scripts/test.sh [CTEST ARGS...]             the Release build in build/
#   scripts/test.sh --sanitize [CTEST ARGS...]  the same tests built with clang-14, ASan and UBSan
#                                               in build-sanitize/ (with the fuzz targets, which
#                                               scripts/fuzz.sh then runs from there)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize=0
if [[ ${1:-} == --sanitize ]]; then
  sanitize=1
  shift
fi

scripts/install_deps.sh
scripts/check_format.sh
if ((sanitize)); then
  build_dir="${RESPALDO_SANITIZE_BUILD_DIR:-build-sanitize}"
  scripts/configure_sanitize.sh "${build_dir}"
  # Every report is fatal (-fno-sanitize-recover); leaks are reported when a process exits.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64:strict_string_checks=1:detect_stack_use_after_return=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
  build_dir="${RESPALDO_BUILD_DIR:-build}"
  cmake -S . -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRESPALDO_WERROR=ON
fi
cmake --build "${build_dir}" -j "$(nproc)"
if ((sanitize)); then
  # The OpenAPI lint, the alert rules, the doubles' self-tests and the browser test (its server
  # paths are the black-box tests' own) run no new respaldo code. The PostgreSQL and MariaDB
  # round trips spend their time in the database servers; the agent and drill code they drive is
  # run under the sanitizers by integration.agent_test and the unit tests.
  ctest --test-dir "${build_dir}" --output-on-failure -j 2 \
    -E '^((proto|monitoring|doubles|browser)\.|integration\.agent_(postgres|mariadb)_test$)' "$@"
else
  # playwright-core for the browser test, from the lockfile; it drives Debian's chromium.
  (cd test/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --no-update-notifier --silent)
  ctest --test-dir "${build_dir}" --output-on-failure -j 2 "$@"
fi
