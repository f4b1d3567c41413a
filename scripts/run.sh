#!/usr/bin/env bash
# Installs what is missing, builds respaldo (Release) and starts `respaldo serve` with the embedded
# defaults: SQLite and local storage under ./var, API on 127.0.0.1:8080. Extra arguments are passed
# to `respaldo serve` (see build/app/respaldo serve --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)" --target respaldo
echo "run.sh: the dashboard is at http://127.0.0.1:8080/ (unless --listen says otherwise); sign in" \
  "with the admin token in ./var/admin-token (created at the first start, mode 0600)" >&2
exec build/app/respaldo serve --data-dir ./var "$@"
