#!/usr/bin/env bash
# The README's first command, as a new user runs it: a clean clone of this
# repository, `sudo` absent from PATH (root shells and containers have none),
# scripts/setup.sh. Checks that it builds only the `dualkey` target before the
# demo and that the demo ends with `lost: 0`. Slow (a full build of dualkey
# in the clone): run by hand or in a nightly job, not in scripts/test.sh.
#   scripts/check-readme.sh            (as root, or as a user with sudo)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# DUALKEY_README_WORK: where the clone goes (default /tmp; a directory under
# ccache's base_dir makes the build reuse compiled objects).
work="$(mktemp -d "${DUALKEY_README_WORK:-/tmp}/dualkey-readme-XXXXXX")"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
# The working tree's uncommitted state is not what a user clones.
(cd "$work/clone" && git log -1 --oneline)

# PATH without sudo: symlinks to every program on the usual PATH but sudo.
mkdir "$work/bin"
IFS=: read -r -a dirs <<<"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name="$(basename "$f")"
    [ "$name" = sudo ] && continue
    [ -e "$work/bin/$name" ] || ln -s "$f" "$work/bin/$name"
  done
done
if PATH="$work/bin" command -v sudo >/dev/null; then
  echo "check-readme: sudo is still on PATH" >&2
  exit 1
fi

start=$SECONDS
log="$work/setup.log"
if ! (cd "$work/clone" && PATH="$work/bin" scripts/setup.sh 2>&1 | tee "$log"); then
  echo "check-readme: scripts/setup.sh failed" >&2
  exit 1
fi
seconds=$((SECONDS - start))
fail=0
grep -q "lost: 0 rows, 0 files, 0 backups" "$log" || { echo "check-readme: the demo did not end with lost: 0" >&2; fail=1; }
built=$(find "$work/clone/build" -maxdepth 1 -type f -perm -u+x -name 'test_*' | wc -l)
[ "$built" -eq 0 ] || { echo "check-readme: setup.sh built $built test programs; it should build only dualkey" >&2; fail=1; }
[ -x "$work/clone/build/dualkey" ] || { echo "check-readme: no build/dualkey" >&2; fail=1; }
echo "check-readme: scripts/setup.sh took ${seconds}s; test programs built: $built"
exit "$fail"
