#!/usr/bin/env bash
# Lints respaldo's OpenAPI documents (proto/*.openapi.yaml) with Redocly CLI and the rules in
# proto/redocly.yaml. Installs the pinned Redocly CLI from npm into the tools directory the first
# time (RESPALDO_TOOLS_DIR, default build/tools). Exits non-zero on any error or warning.
set -euo pipefail

readonly REDOCLY_VERSION=2.77.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${RESPALDO_TOOLS_DIR:-build/tools}"
case "${tools_dir}" in
  /*) ;;
  *) tools_dir="${root}/${tools_dir}" ;;
esac
redocly="${tools_dir}/node_modules/.bin/redocly"
package_json="${tools_dir}/node_modules/@redocly/cli/package.json"

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "lint_openapi: '${tool}' not found; install Node.js and npm (apt-get install nodejs npm)" >&2
    exit 1
  fi
done

installed_version() {
  [[ -f "${package_json}" ]] || return 0
  node -e 'process.stdout.write(require(process.argv[1]).version)' "${package_json}" 2>/dev/null || true
}

if [[ ! -x "${redocly}" || "$(installed_version)" != "${REDOCLY_VERSION}" ]]; then
  echo "lint_openapi: installing @redocly/cli@${REDOCLY_VERSION} into ${tools_dir}"
  mkdir -p "${tools_dir}"
  npm install --no-audit --no-fund --no-update-notifier --prefix "${tools_dir}" \
    "@redocly/cli@${REDOCLY_VERSION}"
fi

# The lint must not reach out to the network.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

cd "${root}"
status=0
output="$("${redocly}" lint --config proto/redocly.yaml --lint-config error --format codeframe 2>&1)" ||
  status=$?
printf '%s\n' "${output}"

if [[ ${status} -ne 0 ]]; then
  echo "lint_openapi: FAILED (redocly exit status ${status})" >&2
  exit 1
fi
# Redocly exits 0 on warnings; the documents are kept free of them too.
if grep -Eq '[0-9]+ warnings?' <<<"${output}"; then
  echo "lint_openapi: FAILED (warnings present)" >&2
  exit 1
fi
echo "lint_openapi: proto/respaldo.openapi.yaml and proto/app-contract.openapi.yaml are clean"
