#!/usr/bin/env bash
# Formats the C++ sources with clang-format (.clang-format: Google style, 100 columns).
# --check: report files that are not formatted and fail, change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . -name '*.cpp' -o -name '*.h')
[[ ${#files[@]} -eq 0 ]] && exit 0
if [[ "${1:-}" == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'clang-format: not formatted: %s\n' "${bad[@]}" >&2
    echo "run scripts/format.sh to fix" >&2
    exit 1
  fi
  echo "clang-format: ${#files[@]} files formatted"
else
  clang-format --style=file -i "${files[@]}"
fi
