#!/usr/bin/env bash
# Installs the Debian packages DiffKeeper needs to build, test and benchmark.
# Idempotent; run as root on Debian bookworm.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libcpprest-dev nlohmann-json3-dev libyaml-cpp-dev liblmdb-dev libzstd-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libdivsufsort-dev libbz2-dev
  zstd openssl bsdiff xdelta3 restic borgbackup clang-format lua5.4 sqlite3 python3
  jq curl iproute2 ccache
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all ${#packages[@]} packages present" >&2
