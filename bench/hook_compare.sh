#!/usr/bin/env bash
# Times the whole `dualkey hook claude` process against the npm package
# cc-safety-net (`cc-safety-net hook --claude-code`) on the same Claude Code
# PreToolUse inputs, in one run, and prints medians and their ratio.
#
#   bench/hook_compare.sh [DUALKEY_BINARY] [RUNS]
#
# cc-safety-net is installed with npm into a temp dir (set CCSN_DIR to reuse
# one). Both hooks run with the same temp HOME so neither reads your config.
# Last line: dualkey_ms=A cc_safety_net_ms=B ratio=R
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
dualkey="${1:-$here/build/dualkey}"
runs="${2:-200}"
[[ -x "$dualkey" ]] || { echo "no dualkey binary at $dualkey (build it, or pass its path)" >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed for cc-safety-net" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed for timing" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ccsn_dir="${CCSN_DIR:-$work/ccsn}"
ccsn="$ccsn_dir/node_modules/cc-safety-net/dist/bin/cc-safety-net.js"
if [[ ! -f "$ccsn" ]]; then
  mkdir -p "$ccsn_dir"
  (cd "$ccsn_dir" && npm install --silent --no-audit --no-fund cc-safety-net >/dev/null 2>&1) ||
    { echo "npm install cc-safety-net failed" >&2; exit 2; }
fi
ccsn_version="$(node -p "require('$ccsn_dir/node_modules/cc-safety-net/package.json').version")"
mkdir -p "$work/home/app"

python3 - "$dualkey" "$ccsn" "$work" "$runs" "$ccsn_version" <<'PY'
import json, os, statistics, sys, time

dualkey, ccsn, work, runs, ccsn_version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
home = os.path.join(work, "home")
cwd = os.path.join(home, "app")
commands = [
    "ls -la", "git status", "npm test", "rm -rf node_modules",
    "rm -rf ~", "git push --force origin main", "git reset --hard HEAD~3",
    "find . -name '*.tmp' -delete", "bash -c 'rm -rf /srv/data'",
    "cd build && make -j8 && ./run_tests --filter 'drop table'",
]
inputs = []
for i, command in enumerate(commands):
    path = os.path.join(work, f"input{i}.json")
    with open(path, "w") as f:
        json.dump({"session_id": "bench", "transcript_path": "", "cwd": cwd,
                   "permission_mode": "default", "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": {"command": command},
                   "tool_use_id": f"toolu_{i}"}, f)
    inputs.append(path)

env = dict(os.environ, HOME=home)
devnull = os.open(os.devnull, os.O_WRONLY)

def run_once(argv, path):
    fd = os.open(path, os.O_RDONLY)
    actions = [(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
               (os.POSIX_SPAWN_DUP2, devnull, 2)]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    os.close(fd)
    return elapsed / 1e6, os.waitstatus_to_exitcode(status)

node = next(os.path.join(d, "node") for d in os.environ["PATH"].split(":")
            if os.access(os.path.join(d, "node"), os.X_OK))
tools = {
    "dualkey": [dualkey, "hook", "claude"],
    "cc_safety_net": [node, ccsn, "hook", "--claude-code"],
}
counts = {"dualkey": runs, "cc_safety_net": max(20, runs // 10)}
samples = {name: [] for name in tools}
for name, argv in tools.items():  # warm the page cache
    for path in inputs[:3]:
        run_once(argv, path)
# Interleave the two tools so machine noise hits both alike.
for r in range(max(counts.values())):
    for name, argv in tools.items():
        if r < counts[name]:
            ms, code = run_once(argv, inputs[r % len(inputs)])
            if code not in (0, 2):
                sys.exit(f"{name} exited {code} on {inputs[r % len(inputs)]}")
            samples[name].append(ms)

d = statistics.median(samples["dualkey"])
c = statistics.median(samples["cc_safety_net"])
for name in tools:
    s = sorted(samples[name])
    print(f"{name}: runs={len(s)} median={statistics.median(s):.3f} ms "
          f"p90={s[int(len(s) * 0.9) - 1]:.3f} ms min={s[0]:.3f} ms")
print(f"cc-safety-net version {ccsn_version}; {len(commands)} inputs; goal: dualkey <= 2 ms and "
      f"<= 1/50 of cc-safety-net")
print(f"dualkey_ms={d:.3f} cc_safety_net_ms={c:.3f} ratio={c / d:.1f}")
PY
