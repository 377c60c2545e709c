#!/usr/bin/env bash
# Installs the Debian 12 packages dualkey builds and tests with. Idempotent:
# asks apt only for what is missing, so a machine that has them all is done in
# a second.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libpg-query-dev nlohmann-json3-dev libcli11-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev libsodium-dev libzstd-dev libsqlite3-dev libpq-dev libasio-dev
  libqrencode-dev hyperfine
  libboost-dev
  postgresql postgresql-client python3 jq
  libboost-dev curl
  restic borgbackup zstd
  pgbouncer openssl
)
# The MCP proxy tests run real MCP servers from npm: Debian's node and npm
# unless a node (e.g. NodeSource's) is already on PATH.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
