#!/usr/bin/env bash
# dualkey vault vs restic vs borg on the same ~1 GiB dataset: a large random
# file, a large SQL-dump-like text file and thousands of small files.
#
#   bench/vault_compare.sh [path/to/dualkey]      (default: build/dualkey)
#
# Run 1 saves everything into empty repositories (twice, each tool's best
# time counts: the machine may be shared); then 5% of the large file is
# overwritten (16 scattered regions) and run 2 saves again. For each tool:
# MB/s (dataset bytes / wall time), CPU seconds (user + sys) and the bytes the
# run added to its repository.
# sha256sum and `zstd -1` over the same bytes give the ceiling. Then the
# vault's latest snapshot is restored and compared byte for byte.
# The last line is for scripts:
#   ingest_vs_restic=R1 ingest_vs_borg=R2 added_bytes_vs_restic=R3 restore_mb_s=N
# (R1, R2 from run 1; R3 from run 2: vault's added bytes / restic's.)
# Everything lives in one temp directory, removed at exit.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dualkey=${1:-$here/build/dualkey}
[ -x "$dualkey" ] || { echo "no dualkey binary at $dualkey (build it first)" >&2; exit 2; }
for tool in restic borg zstd sha256sum python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install restic borgbackup zstd)" >&2; exit 2; }
done

base=${TMPDIR:-/tmp}
free_kb=$(df -Pk "$base" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((6 * 1024 * 1024)) ]; then
  echo "needs 6 GiB free in $base (has $((free_kb / 1024)) MiB); set TMPDIR" >&2
  exit 2
fi
work=$(mktemp -d "$base/dualkey-vault-bench.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
data=$work/data
mkdir -p "$data"

now() { date +%s.%N; }
size_of() { du -sb "$1" | cut -f1; }
mbps() { python3 -c "import sys; print(f'{$1/1e6/($2):.0f}')"; }

echo "building the dataset in $work ..." >&2
# Random bytes fast: AES-CTR keystream.
random_bytes() { (openssl enc -aes-128-ctr -pass "pass:$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true) | head -c "$2"; }
random_bytes big $((512 * 1024 * 1024)) >"$data/big.bin"
python3 - "$data" <<'EOF'
import os, random, sys
data = sys.argv[1]
rng = random.Random(42)
words = ["alpha", "beta", "gamma", "delta", "orders", "shipped", "pending", "refund", "Berlin",
         "Lisbon", "Osaka", "widget", "gadget", "premium", "standard", "express", "invoice"]
# A pg_dump-like SQL file: DDL, then COPY blocks of rows (drawn from a pool of
# 200k random rows: Python formatting every row would take a minute).
pool = [f"customer-{rng.randrange(10**7)}\t{rng.choice(words)}\t"
        f"{rng.randrange(10**6)}.{rng.randrange(100):02d}\t{rng.choice(words)}\t"
        f"2024-{rng.randrange(1,13):02d}-{rng.randrange(1,29):02d} "
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}+00\n"
        for _ in range(200000)]
with open(os.path.join(data, "dump.sql"), "w") as f:
    target = 400 * 1024 * 1024
    written = 0
    table = 0
    while written < target:
        table += 1
        head = (f"\n--\n-- Name: t{table}; Type: TABLE; Schema: public; Owner: app\n--\n\n"
                f"CREATE TABLE public.t{table} (\n    id bigint NOT NULL,\n    customer text,\n"
                f"    city text,\n    amount numeric(12,2),\n    status text,\n    created_at timestamptz\n);\n\n"
                f"COPY public.t{table} (id, customer, city, amount, status, created_at) FROM stdin;\n")
        rows = [f"{i}\t{pool[rng.randrange(len(pool))]}" for i in range(50000)]
        block = head + "".join(rows) + "\\.\n"
        f.write(block)
        written += len(block)
# Thousands of small files: source-like text and some binary, 1-64 KiB.
noise = open("/dev/urandom", "rb").read(1 << 20)
for d in range(40):
    os.makedirs(os.path.join(data, "small", f"dir{d:02d}"), exist_ok=True)
    for i in range(100):
        n = rng.randrange(1024, 64 * 1024)
        path = os.path.join(data, "small", f"dir{d:02d}", f"file{i:03d}.txt")
        if i % 4 == 0:
            off = rng.randrange(len(noise) - n)
            body = noise[off:off + n]
        else:
            line = f"def handler_{d}_{i}(request):  # {rng.choice(words)} {rng.randrange(10**9)}\n"
            body = (line * (n // len(line) + 1))[:n].encode()
            body = bytearray(body)
            for _ in range(n // 64):
                body[rng.randrange(n)] = rng.randrange(97, 123)
            body = bytes(body)
        with open(path, "wb") as f:
            f.write(body)
EOF
total=$(find "$data" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
files=$(find "$data" -type f | wc -l)
cat "$data/big.bin" "$data/dump.sql" >/dev/null  # warm the page cache for everyone
find "$data/small" -type f -exec cat {} + >/dev/null
sleep 2  # the vault (like borg and restic) trusts file metadata only for files older than its start

echo "dataset: $files files, $total bytes" >&2
t0=$(now); find "$data" -type f -print0 | sort -z | xargs -0 cat | sha256sum >/dev/null; t1=$(now)
sha_mbs=$(mbps "$total" "$t1 - $t0")
t0=$(now); find "$data" -type f -print0 | sort -z | xargs -0 cat | zstd -1 -q -c >/dev/null; t1=$(now)
zstd_mbs=$(mbps "$total" "$t1 - $t0")

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$work/borg-home RESTIC_CACHE_DIR=$work/restic-cache
vault=$work/vault restic_repo=$work/restic borg_repo=$work/borg
declare -A secs cpu added
# run NAME ROUND: one timed save; secs = wall clock, cpu = user + sys seconds.
run() {
  local name=$1 round=$2 repo before after
  case $name in vault) repo=$vault ;; restic) repo=$restic_repo ;; borg) repo=$borg_repo ;; esac
  before=$(size_of "$repo")
  sync
  case $name in
    vault) /usr/bin/time -f '%e %U %S' -o "$work/time" \
      "$dualkey" vault put --vault "$vault" --quiet --tag "round$round" "$data" >/dev/null ;;
    restic) /usr/bin/time -f '%e %U %S' -o "$work/time" \
      restic backup -q --repo "$restic_repo" "$data" >/dev/null ;;
    borg) /usr/bin/time -f '%e %U %S' -o "$work/time" \
      borg create --compression lz4 "$borg_repo::round$round" "$data" ;;
  esac
  after=$(size_of "$repo")
  read -r wall user sys <"$work/time"
  # Best of the attempts: the machine may be shared, and noise only slows.
  if [ -z "${secs[$name$round]:-}" ] || python3 -c "import sys; sys.exit(not $wall < ${secs[$name$round]})"; then
    secs[$name$round]=$wall
    cpu[$name$round]=$(python3 -c "print(round($user + $sys, 2))")
  fi
  added[$name$round]=$((after - before))
  echo "  $name round $round: $(mbps "$total" "$wall") MB/s, $user s user + $sys s sys, added ${added[$name$round]} bytes" >&2
}
fresh() {  # empty repositories
  rm -rf "$vault" "$restic_repo" "$borg_repo" "$BORG_BASE_DIR" "$RESTIC_CACHE_DIR"
  "$dualkey" vault init --vault "$vault" >/dev/null
  restic init -q --repo "$restic_repo" >/dev/null
  borg init --encryption=repokey "$borg_repo" 2>/dev/null
}

echo "run 1: everything new (twice, taking each tool's best time)" >&2
for attempt in 1 2; do
  fresh
  for tool in vault restic borg; do run "$tool" 1; done
done
# 5% of the large file changes: 16 scattered regions.
big_size=$(stat -c %s "$data/big.bin")
region=$((big_size / 20 / 16))
for i in $(seq 0 15); do
  offset=$(((i * big_size / 16) + (i * 7919 * 4096) % (big_size / 32)))
  random_bytes "change$i" "$region" | dd of="$data/big.bin" bs=64K seek="$offset" oflag=seek_bytes conv=notrunc status=none
done
sleep 2
echo "run 2: 5% of the large file changed" >&2
for tool in vault restic borg; do run "$tool" 2; done

echo "restore" >&2
sync
t0=$(now)
"$dualkey" vault restore --vault "$vault" --quiet latest --to "$work/restored" >/dev/null
t1=$(now)
restore_mbs=$(mbps "$total" "$t1 - $t0")
restored=$work/restored$data
if diff -r --no-dereference "$data" "$restored" >/dev/null; then exact=yes; else exact=NO; fi
t0=$(now)
restic restore -q --repo "$restic_repo" latest --target "$work/restic-restored" >/dev/null
t1=$(now)
restic_restore_mbs=$(mbps "$total" "$t1 - $t0")

printf '\n%-10s %10s %10s %12s %10s %10s %12s\n' tool "run1 MB/s" "run1 CPU s" "run1 added" \
  "run2 MB/s" "run2 CPU s" "run2 added"
for tool in vault restic borg; do
  printf '%-10s %10s %10s %12s %10s %10s %12s\n' "$tool" "$(mbps "$total" "${secs[${tool}1]}")" \
    "${cpu[${tool}1]}" "${added[${tool}1]}" "$(mbps "$total" "${secs[${tool}2]}")" \
    "${cpu[${tool}2]}" "${added[${tool}2]}"
done
printf '%-10s %10s\n' sha256sum "$sha_mbs" "zstd -1" "$zstd_mbs"
echo "restore: vault $restore_mbs MB/s (bit-exact: $exact), restic $restic_restore_mbs MB/s"
python3 - "${secs[vault1]}" "${secs[restic1]}" "${secs[borg1]}" "${added[vault2]}" "${added[restic2]}" "$restore_mbs" <<'EOF'
import sys
v, r, b, va, ra, restore = sys.argv[1:]
print(f"ingest_vs_restic={float(r)/float(v):.2f} ingest_vs_borg={float(b)/float(v):.2f} "
      f"added_bytes_vs_restic={int(va)/max(1,int(ra)):.2f} restore_mb_s={restore}")
EOF
[ "$exact" = yes ]
