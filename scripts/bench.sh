#!/usr/bin/env bash
# Benchmarks respaldo's backup path against shell pipelines doing the same work through the same
# test doubles, in one run on this machine: app double -> respaldo -> local storage and -> Drive
# double, peak RSS for a small and a large backup, and the machine's hashing and disk ceilings.
# Then the native part (test/bench/native_bench.py): respaldo against the C++ app source and Drive
# sink of test/bench/native (memory speed), four streams at once, syscalls per GB, and the API
# under wrk with 10,000 apps and 100,000 jobs. Figures and how to read them: docs/benchmarks.md.
#
# usage: scripts/bench.sh [--quick | --smoke] [--no-build] [--sections tools,local,flat,drive]
#                         [--require-drive] [--json FILE]
#                         [--native-sections drive,streams,local,rss,syscalls,api | --no-native]
#                         [--markdown FILE]
#   (default)   2 GiB backups, 3 runs of each path, median reported (a few minutes)
#   --quick     256 MiB, 3 runs of each path (well under a minute)
#   --smoke     32 MiB, one run each: checks that everything runs and prints numbers
#   --no-build  do not call `cmake --build` first
#
# Environment:
#   RESPALDO_BUILD_DIR  build directory (default build; configured, preferably Release)
#   RESPALDO_BIN        use this binary; nothing is built
#   RESPALDO_BENCH_TOOLS  where bench_app_source, bench_drive_sink and bench_catalog_generator
#                       are (default BUILD_DIR/test/bench)
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
# Needs python3, curl, openssl and coreutils; the native part also wrk and strace.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=full
build=1
pass=()
native=1
native_pass=()
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
    --no-native) native=0 ;;
    --native-sections | --markdown)
      (($# >= 2)) || { echo "bench: $1 needs a value" >&2; exit 2; }
      native_pass+=("--${1#--native-}" "$2")
      shift
      ;;
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
  tools="${RESPALDO_BENCH_TOOLS:-${build_dir}/test/bench}"
  if ((build)) || [[ ! -x "${bin}" ]]; then
    cmake --build "${build_dir}" --target respaldo
  fi
  if ((native)) && { ((build)) || [[ ! -x "${tools}/bench_drive_sink" ]]; }; then
    cmake --build "${build_dir}" --target bench_app_source bench_drive_sink bench_catalog_generator
  fi
fi
tools="${RESPALDO_BENCH_TOOLS:-${tools:-}}"
[[ -x "${bin}" ]] || { echo "bench: no respaldo binary at ${bin}" >&2; exit 1; }

python3 "${root}/test/bench/bench.py" --bin "${bin}" --mode "${mode}" "${pass[@]}"
((native)) || exit 0
for tool in wrk strace; do
  command -v "${tool}" >/dev/null 2>&1 || { echo "bench: '${tool}' not found" >&2; exit 1; }
done
[[ -x "${tools}/bench_drive_sink" ]] || {
  echo "bench: no native peers in '${tools}' (set RESPALDO_BENCH_TOOLS)" >&2
  exit 1
}
case "${mode}" in
  full) sizes=(--size 2GiB --large 8GiB --repeat 3 --apps 10000 --jobs 100000 --wrk-seconds 5) ;;
  quick) sizes=(--size 256MiB --large 1GiB --repeat 1 --apps 2000 --jobs 20000 --wrk-seconds 2) ;;
  smoke) sizes=(--size 32MiB --large 64MiB --repeat 1 --apps 50 --jobs 500 --wrk-seconds 1) ;;
esac
echo
echo "== respaldo benchmark: native peers =="
exec python3 "${root}/test/bench/native_bench.py" --bin "${bin}" --tools-dir "${tools}" \
  "${sizes[@]}" "${native_pass[@]}"
