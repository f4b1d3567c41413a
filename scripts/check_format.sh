#!/usr/bin/env bash
# Fails when a C++ file under lib/, app/ or test/ differs from .clang-format; `clang-format -i` on
# the named files fixes it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t files < <(git ls-files -- 'lib/*.cpp' 'lib/*.hpp' 'app/*.cpp' 'app/*.hpp' 'test/*.cpp' 'test/*.hpp')
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check_format: run clang-format -i on the files above" >&2
  exit 1
fi
