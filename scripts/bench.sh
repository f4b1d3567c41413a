#!/usr/bin/env bash
# Benchmarks respaldo's backup path against shell pipelines doing the same work through the same
# test doubles, in one run on this machine: app double -> respaldo -> local storage and -> Drive
# double, peak RSS for a small and a large backup, and the machine's hashing and disk ceilings.
# Figures and how to read them: docs/benchmarks.md.
#
# usage: scripts/bench.sh [--quick | --smoke] [--no-build] [--sections tools,local,flat,drive]
#                         [--require-drive] [--json FILE]
#   (default)   2 GiB backups, 3 runs of each path, median reported (a few minutes)
#   --quick     256 MiB, 3 runs of each path (well under a minute)
#   --smoke     32 MiB, one run each: checks that everything runs and prints numbers
#   --no-build  do not call `cmake --build` first
#
# Environment:
#   RESPALDO_BUILD_DIR  build directory (default build; configured, preferably Release)
#   RESPALDO_BIN        use this binary; nothing is built
#   BENCH_SIZE          backup size (2GiB; --quick 256MiB)
#   BENCH_SMALL_SIZE    the small backup of the RSS comparison (256MiB; --quick 32MiB)
#   BENCH_REPEAT        runs of each path, the median is reported (3; --smoke 1)
#   BENCH_CHUNK_SIZE    respaldo --chunk-size (respaldo's default, 8MiB)
#   BENCH_HASH_SECONDS  duration of openssl speed (3)
#   BENCH_DD_SIZE       size of the dd disk measurements (BENCH_SIZE)
#   BENCH_DIR           local storage and baseline files (default $TMPDIR or /var/tmp; a real
#                       disk, not tmpfs)
#   BENCH_SHM_DIR       the Drive double's files (default /dev/shm)
#   BENCH_PRIME=0       do not write and delete a file of the transfer's size before each run (on
#                       VMs that hand free memory back to the host, first-touch faults then
#                       dominate every path)
#   BENCH_SETTLE        seconds of pause (after a sync) between sections (5; --quick 0)
# Needs python3, curl, openssl and coreutils.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=full
build=1
pass=()
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --full) mode=full ;;
    --no-build) build=0 ;;
    --sections | --json)
      (($# >= 2)) || { echo "bench: $1 needs a value" >&2; exit 2; }
      pass+=("$1" "$2")
      shift
      ;;
    --require-drive) pass+=("$1") ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

for tool in python3 curl openssl sha256sum dd; do
  command -v "${tool}" >/dev/null 2>&1 || { echo "bench: '${tool}' not found" >&2; exit 1; }
done

if [[ -n "${RESPALDO_BIN:-}" ]]; then
  bin="${RESPALDO_BIN}"
else
  build_dir="${RESPALDO_BUILD_DIR:-build}"
  [[ "${build_dir}" == /* ]] || build_dir="${root}/${build_dir}"
  if [[ ! -f "${build_dir}/CMakeCache.txt" ]]; then
    echo "bench: ${build_dir} is not a configured build directory; configure it first:" >&2
    echo "  cmake -S ${root} -B ${build_dir} -G Ninja -DCMAKE_BUILD_TYPE=Release" >&2
    exit 1
  fi
  build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "${build_dir}/CMakeCache.txt")"
  case "${build_type}" in
    Release | RelWithDebInfo) ;;
    *) echo "bench: warning: ${build_dir} is a '${build_type:-no type}' build; figures of" \
      "anything but Release are not representative" >&2 ;;
  esac
  bin="${build_dir}/app/respaldo"
  if ((build)) || [[ ! -x "${bin}" ]]; then
    cmake --build "${build_dir}" --target respaldo
  fi
fi
[[ -x "${bin}" ]] || { echo "bench: no respaldo binary at ${bin}" >&2; exit 1; }

exec python3 "${root}/test/bench/bench.py" --bin "${bin}" --mode "${mode}" "${pass[@]}"
