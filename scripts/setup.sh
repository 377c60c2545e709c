#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what dualkey needs, builds
# build/dualkey and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
if build/dualkey --help 2>/dev/null | grep -qE "^ +demo( |$)"; then
  exec build/dualkey demo
fi
# Until the incident replay lands: what dualkey makes of the incident's commands.
echo
echo "== dualkey check on the kinds of commands from the incident =="
while IFS= read -r cmd; do
  printf '%-72s ' "$cmd"
  build/dualkey check --local --json --cwd "$HOME" -- "$cmd" | python3 -c \
    'import json,sys; o=json.load(sys.stdin); print(o["decision"].upper().ljust(6), o["reason"][:70])' || true
done <<'CMDS'
ls -la /var/backups
psql -h prod-db -c 'DROP DATABASE orders'
D=/var/lib/postgresql; sudo bash -c "rm -rf $D"
echo cm0gLXJmIC8= | base64 -d | sh
aws s3 rb s3://prod-user-uploads --force
restic -r /mnt/backup/restic forget --keep-last 1 --prune
echo "rm -rf /"
git push --force origin main
npm test
CMDS
