#!/usr/bin/env bash
# Installs the Debian 12 packages respaldo needs to build and test, skipping those already there.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libssl-dev openssl zlib1g-dev libsqlitecpp-dev libsqlite3-dev libhowardhinnant-date-dev tzdata catch2
  python3 curl ca-certificates clang-format
  # promtool checks /metrics and the alerting rules in the test suite.
  prometheus
  # The benchmark's API load and syscall count (scripts/bench.sh; its smoke runs in the suite).
  wrk strace
  # respaldo agent's tests: GNU tar, and a real PostgreSQL 15 cluster (initdb, pgbench, pg_dump).
  tar postgresql-15 postgresql-client-15
  # ... and a real MariaDB server (mariadb-install-db, mariadbd, mariadb-dump, the client).
  mariadb-server mariadb-client
  # The dashboard's browser test (test/browser/) drives Debian's headless Chromium.
  chromium
  # The sanitizer build and the fuzz targets (scripts/test.sh --sanitize, scripts/fuzz.sh).
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)

# The OpenAPI lint runs on Node.js; machines that already have a newer one keep it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install_deps: run as root or install sudo to add: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install_deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
