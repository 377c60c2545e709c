#!/usr/bin/env bash
# Installs the Debian 12 packages dualkey builds and tests with. Idempotent:
# asks apt only for what is missing, so a machine that has them all is done in
# a second. Needs root only to install: as root it runs apt itself (no sudo,
# which root shells and containers often lack); as a user it asks sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libpg-query-dev nlohmann-json3-dev libcli11-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev libsodium-dev libzstd-dev libsqlite3-dev libpq-dev
  libqrencode-dev hyperfine
  libgit2-dev
  libcbor-dev
  libboost-dev
  postgresql postgresql-client python3 jq
  libboost-dev curl
  restic borgbackup zstd
  pgbouncer openssl
  sqlite3 util-linux passwd procps
  # The approver's page is tested in a real browser (tests/web: playwright-core
  # from npm drives Debian's Chromium; no browser is downloaded).
  chromium fonts-dejavu-core
  # The Debian package (scripts/package.sh; tests/package builds, lintian-checks,
  # installs and purges it in CI): debhelper, lintian, systemd-analyze for the
  # units (systemd's package; it need not run as PID 1), man for the pages.
  debhelper dpkg-dev fakeroot lintian systemd man-db
  # The zsh and fish completions are parsed and run by tests/cli (Docgen).
  zsh fish
)
# The MCP proxy tests run real MCP servers from npm: Debian's node and npm
# unless a node (e.g. NodeSource's) is already on PATH.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "Debian packages: all ${#packages[@]} present"
  exit 0
fi
echo "installing: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps.sh: installing packages needs root, and sudo is not installed:" >&2
    echo "  run this script as root (su -c scripts/install-deps.sh), or install sudo" >&2
    exit 1
  fi
  as_root=(sudo)
fi
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
