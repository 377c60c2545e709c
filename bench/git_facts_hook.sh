#!/usr/bin/env bash
# Times `dualkey hook claude` for deletes inside a git work tree of 10,000
# tracked files (the git facts are read: libgit2 loaded, index read, the
# folder compared) against commands that need no facts, and prints medians.
#
#   bench/git_facts_hook.sh [DUALKEY_BINARY] [RUNS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dualkey="${1:-$here/build/dualkey}"
runs="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$work/home/proj/app"
mkdir -p "$repo"
git init -q "$repo"
python3 - "$repo" <<'PY'
import os, sys
repo = sys.argv[1]
for d in range(100):
    os.makedirs(f"{repo}/src/m{d}", exist_ok=True)
    for f in range(100):
        with open(f"{repo}/src/m{d}/f{f}.c", "w") as out:
            out.write(f"int f{d}_{f};\n")
os.makedirs(f"{repo}/site-out", exist_ok=True)
open(f"{repo}/site-out/index.html", "w").write("<html>\n")
open(f"{repo}/.gitignore", "w").write("site-out/\n")
PY
git -C "$repo" add -A
git -C "$repo" -c user.email=b@example.com -c user.name=b commit -qm bench
echo notes > "$repo/src/m3/notes.md"
python3 - "$dualkey" "$work" "$repo" "$runs" <<'PY'
import json, os, statistics, sys, time
dualkey, work, repo, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
commands = ["ls -la", "rm -rf node_modules", "rm -rf src/m7", "rm -rf src/m3",
            "rm -rf site-out", "rm -rf src"]
env = dict(os.environ, HOME=os.path.join(work, "home"))
devnull = os.open(os.devnull, os.O_WRONLY)
def once(path):
    fd = os.open(path, os.O_RDONLY)
    start = time.perf_counter_ns()
    pid = os.posix_spawn(dualkey, [dualkey, "hook", "claude"], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0),
                                       (os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    os.waitpid(pid, 0)
    os.close(fd)
    return (time.perf_counter_ns() - start) / 1e6
for i, command in enumerate(commands):
    path = os.path.join(work, f"in{i}.json")
    json.dump({"session_id": "bench", "cwd": repo, "hook_event_name": "PreToolUse",
               "tool_name": "Bash", "tool_input": {"command": command}}, open(path, "w"))
    once(path)
    samples = [once(path) for _ in range(runs)]
    print(f"{command:24s} median {statistics.median(samples):7.2f} ms")
PY
