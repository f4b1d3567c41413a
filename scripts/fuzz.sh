#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan, UBSan) out of tree and runs them on their seed
# corpora in test/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   default: all targets, 60 s each
#
# New inputs go to a scratch corpus under the build dir, so the checked-in seeds change only by
# hand. A crash leaves its input in build-sanitize/fuzz-artifacts/ and the script fails; turn it
# into a unit test before fixing it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target="${1:-all}"
seconds="${2:-60}"
build_dir="${RESPALDO_SANITIZE_BUILD_DIR:-build-sanitize}"
all_targets=(app_validation contract_headers cron drive_responses http_request retention_policy
             time_parsers)
if [[ ${target} == all ]]; then
  targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" ${target} "* ]]; then
  targets=("${target}")
else
  echo "fuzz.sh: unknown target '${target}'; one of: all ${all_targets[*]}" >&2
  exit 2
fi
if ! [[ ${seconds} =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS must be a positive whole number, got '${seconds}'" >&2
  exit 2
fi

scripts/install_deps.sh
scripts/configure_sanitize.sh "${build_dir}" >/dev/null
cmake --build "${build_dir}" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

artifacts="${build_dir}/fuzz-artifacts"
mkdir -p "${artifacts}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# One fuzzing process per core; each target still gets its full SECONDS.
run_one() {
  local t=$1 scratch="${build_dir}/fuzz-corpus/$1" log="${build_dir}/fuzz-$1.log"
  mkdir -p "${scratch}"
  # -rss_limit_mb bounds what one input may make a parser hold; -max_len bounds an input.
  if "${build_dir}/test/fuzz/fuzz_${t}" -max_total_time="${seconds}" -rss_limit_mb=2048 \
      -max_len=8192 -timeout=10 -print_final_stats=1 -artifact_prefix="${artifacts}/${t}-" \
      "${scratch}" "test/fuzz/corpus/${t}" >"${log}" 2>&1; then
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "${log}" | grep -o '[0-9]*$')
    echo "fuzz.sh: ${t}: ${runs:-0} executions in ${seconds} s, no crash"
  else
    echo "fuzz.sh: ${t} FAILED; its log follows (inputs in ${artifacts}/)" >&2
    tail -n 60 "${log}" >&2
    return 1
  fi
}

parallel="${RESPALDO_FUZZ_PARALLEL:-$(nproc)}"
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds} s each, ${parallel} at a time"
status=0
running=0
for t in "${targets[@]}"; do
  if ((running >= parallel)); then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "${t}" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || status=1
  running=$((running - 1))
done
exit "${status}"
