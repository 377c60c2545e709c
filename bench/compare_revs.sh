#!/usr/bin/env bash
# Every figure of bench/ for two builds side by side, in one run: this tree
# (build/) against another revision (by default the commit before the #22
# layout sweep, 61f85c6^), built in its own worktree under build-bench/.
# Rounds alternate between the two builds so that machine noise hits both
# alike; each figure is the median of its rounds.
#
#   bench/compare_revs.sh [BASE_REV] [ROUNDS]        (defaults: 61f85c6^ 3)
#
# What runs, each with that build's own code:
#   shell_bench, sql_bench, audit_bench   Google Benchmark, real time per
#                                         iteration of every benchmark both have
#   daemon_roundtrip                      decision round trips to `dualkey serve`
#   gateway_bench                         the HTTP gateway's added latency
#   check --jsonl                         the shared corpus through the binary
#                                         (process start, policy load, classify)
# The last line: `figures=N worse_by_10pct=M geomean_ratio=R` (ratio is
# this tree's value over the base's; below 1 is faster).
# pg_proxy_compare.sh compares the proxy with pgbouncer; it is not repeated
# here (it needs minutes per round).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base_rev=${1:-61f85c6^}
rounds=${2:-3}
command -v python3 >/dev/null || {
  echo "python3 is needed to sum up the runs" >&2
  exit 2
}
base_sha=$(git rev-parse --short "$base_rev^{commit}") || {
  echo "no such revision: $base_rev" >&2
  exit 2
}
# The build directory sits inside the worktree as build/ does in this one, so
# that ccache (with base_dir set) finds what any earlier build of that
# revision compiled.
base_src=$root/build-bench/$base_sha
base_build=$base_src/build
targets=(dualkey shell_bench sql_bench audit_bench daemon_roundtrip gateway_bench)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

echo "==> building this tree's benchmarks (build/)"
[[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)" --target "${targets[@]}" >/dev/null 2>&1

echo "==> building $base_rev ($base_sha) in build-bench/$base_sha"
# Benchmarks read ../shared beside the source tree (the SQL corpus): the
# base worktree gets the same.
[[ -d $root/../shared && ! -e $root/build-bench/shared ]] && mkdir -p build-bench &&
  ln -s "$root/../shared" build-bench/shared
if [[ ! -d $base_src ]]; then
  mkdir -p "$(dirname "$base_src")"
  git worktree add --detach "$base_src" "$base_sha" >/dev/null
fi
[[ -f $base_build/CMakeCache.txt ]] ||
  cmake -S "$base_src" -B "$base_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUALKEY_TESTS=OFF \
    "${launcher[@]}" >/dev/null
cmake --build "$base_build" -j"$(nproc)" --target "${targets[@]}" >/dev/null 2>&1

out=$(mktemp -d /tmp/dualkey-compare-XXXXXX)
trap 'rm -rf "$out"' EXIT
corpus=$root/../shared/corpus/cases.jsonl
[[ -f $corpus ]] || corpus=$root/tests/cases/shell.jsonl

# run_one TAG DIR ROUND: every benchmark of the build in DIR, results in $out.
run_one() {
  local tag=$1 dir=$2 round=$3
  for b in shell_bench sql_bench audit_bench; do
    "$dir/$b" --benchmark_format=json --benchmark_min_time=0.2 \
      --benchmark_out="$out/$tag.$b.$round.json" --benchmark_out_format=json >/dev/null 2>&1 ||
      echo "    ($tag $b failed)"
  done
  "$dir/daemon_roundtrip" "$dir/dualkey" 3000 2>/dev/null | tail -n 1 >"$out/$tag.roundtrip.$round.txt" ||
    echo "    ($tag daemon_roundtrip failed)"
  "$dir/gateway_bench" 2000 2>/dev/null | grep -E '^(added_|https_added_)' | tr '\n' ' ' \
    >"$out/$tag.gateway.$round.txt" || echo "    ($tag gateway_bench failed)"
  local t0 t1
  t0=$(date +%s%N)
  "$dir/dualkey" check --jsonl "$corpus" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo "check_corpus_ms=$(((t1 - t0) / 1000000))" >"$out/$tag.check.$round.txt"
}

for ((round = 1; round <= rounds; ++round)); do
  # Alternate which build goes first.
  if ((round % 2)); then order=(new base); else order=(base new); fi
  for tag in "${order[@]}"; do
    dir=$root/build
    [[ $tag == base ]] && dir=$base_build
    echo "==> round $round/$rounds: $tag"
    run_one "$tag" "$dir" "$round"
  done
done

python3 - "$out" "$rounds" "$base_sha" "$(git rev-parse --short HEAD)" <<'PY'
import glob, json, math, os, re, statistics, sys
out, rounds, base_sha, head = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def figures(tag):
    runs = {}
    for path in glob.glob(os.path.join(out, f"{tag}.*")):
        kind = os.path.basename(path).split(".")[1]
        text = open(path).read()
        if path.endswith(".json"):
            try:
                data = json.loads(text)
            except ValueError:
                continue
            for b in data.get("benchmarks", []):
                # Skipped benchmarks (SkipWithError: e.g. an input that
                # build lacks) measure nothing.
                if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                    continue
                runs.setdefault(f"{kind}/{b['name']}", []).append(b["real_time"])
        else:
            for key, value in re.findall(r"(\w+)=([0-9.]+)", text):
                runs.setdefault(f"{kind}/{key}", []).append(float(value))
    return {k: statistics.median(v) for k, v in runs.items()}

base, new = figures("base"), figures("new")
names = sorted(set(base) & set(new))
print(f"\n{'figure':<58} {'base ' + base_sha:>14} {'this ' + head:>14} {'ratio':>7}")
ratios, worse = [], 0
for name in names:
    b, n = base[name], new[name]
    # rps and throughput figures are better when higher: invert their ratio.
    higher_is_better = name.endswith("_rps")
    ratio = (b / n if higher_is_better else n / b) if b > 0 and n > 0 else float("nan")
    flag = ""
    if ratio == ratio:
        ratios.append(ratio)
        if ratio > 1.10:
            worse += 1
            flag = "  <- worse"
    print(f"{name:<58} {b:>14.1f} {n:>14.1f} {ratio:>7.2f}{flag}")
only = sorted(set(base) ^ set(new))
if only:
    print("in one build only:", ", ".join(only))
geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else float("nan")
print(f"figures={len(ratios)} worse_by_10pct={worse} geomean_ratio={geo:.3f}")
PY
