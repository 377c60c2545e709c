#!/usr/bin/env bash
# dualkey pg-proxy against pgbouncer (session mode) and a direct connection,
# in one run on this machine: pgbench -S at -c 8 -j 2 and at -c 1, TPS and
# latency side by side. The last line is
#   tps_vs_pgbouncer=R1 tps_vs_direct=R2 added_p50_us=N
# (R1, R2 from the -c 8 runs; N = dualkey's p50 minus direct's at -c 1, from
# pgbench's per-transaction log).
#
#   bench/pg_proxy_compare.sh [path/to/dualkey]
# Every statement dualkey decides is reported to a daemon (`dualkey serve`,
# its own state directory) and written to its hash-chained audit log, as in
# production; dualkey's cpu_us is the proxy's plus the daemon's, and the
# last lines count the audit records against the statements run.
# BENCH_AUDIT=0 runs the proxy with no daemon (its reports queue, then are
# counted as a gap); BENCH_AUDIT=both runs such a proxy beside the audited
# one, as the target "unaudited": the audit's cost by difference, in one run.
# Environment: BENCH_SECONDS (10 per run), BENCH_ROUNDS (3), BENCH_SCALE (10),
# BENCH_UPSTREAM (tcp: both proxies reach PostgreSQL over loopback TCP; unix:
# both through its Unix socket, as a proxy beside the database would), DUALKEY_THREADS (1),
# DUALKEY_FAST_PATH_THREADS (the proxy's default: one per 4 cores, 1 to 4),
# DUALKEY_PG_BIN (initdb/pg_ctl directory), DUALKEY_PG_USER (nobody, when root),
# BENCH_PERF (a directory: `perf record -g` during each -c 8 run of dualkey (and
# its daemon) and of pgbouncer (system-wide: perf report --comm; BENCH_PERF_OPTIONS
# replaces -g, e.g. "--call-graph dwarf -F 499" for user-space stacks), into
# BENCH_PERF/NAME-TIME.data).
# BENCH_SYSCALLS=1 (perf stat on each proxy during its -c 8 runs: system
# calls by kind and context switches per transaction, and the machine's idle
# time, printed after the table).
# BENCH_TLS (0: no TLS anywhere; 1 or client: pgbench talks TLS (sslmode=require)
# to pgbouncer (client_tls_*), to dualkey (--tls-cert/--tls-key) and, for direct,
# to PostgreSQL (ssl=on), with a self-signed certificate made in the work
# directory; upstream: only the proxies talk TLS to PostgreSQL (pgbouncer
# server_tls_sslmode=require, dualkey ?sslmode=require), pgbench talks to them
# in plain text; both: client and upstream). In every TLS mode direct is TLS
# (one TLS hop, as a proxy's path has in modes 1 and upstream, two in both), the
# floor passes pgbench's TLS, or plain text, through to PostgreSQL, and a TLS
# check (psql's \conninfo and pg_stat_ssl through each target) runs before the
# benchmark; it is one more session and statement in dualkey's audit.
# Upstream TLS needs BENCH_UPSTREAM=tcp (PostgreSQL has no TLS on its Unix socket).
set -euo pipefail

DUALKEY=${1:-$(dirname "$0")/../build/dualkey}
DUALKEY=$(readlink -f "$DUALKEY")
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
SCALE=${BENCH_SCALE:-10}
ROUNDS=${BENCH_ROUNDS:-3}
UPSTREAM=${BENCH_UPSTREAM:-tcp}
AUDIT=${BENCH_AUDIT:-1}
[[ $UPSTREAM == tcp || $UPSTREAM == unix ]] || { echo "BENCH_UPSTREAM is tcp or unix" >&2; exit 2; }
TLS=${BENCH_TLS:-0}
CLIENT_TLS=0 SERVER_TLS=0
case $TLS in
  0) ;;
  1 | client) CLIENT_TLS=1 ;;
  upstream) SERVER_TLS=1 ;;
  both) CLIENT_TLS=1 SERVER_TLS=1 ;;
  *) echo "BENCH_TLS is 0, 1 (client), upstream or both" >&2; exit 2 ;;
esac
[[ $SERVER_TLS == 1 && $UPSTREAM == unix ]] &&
  { echo "BENCH_TLS=$TLS (TLS to PostgreSQL) needs BENCH_UPSTREAM=tcp" >&2; exit 2; }
THREADS=${DUALKEY_THREADS:-1}
# --fast-path-threads for both dualkey proxies (unset: the proxy's default)
FAST_PATH=()
[[ -n ${DUALKEY_FAST_PATH_THREADS:-} ]] && FAST_PATH=(--fast-path-threads "$DUALKEY_FAST_PATH_THREADS")
# shellcheck disable=SC2012 # version directories (15, 16): plain names, sort -V
PG_BIN=${DUALKEY_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PGBENCH=$(command -v pgbench || echo "$PG_BIN/pgbench")
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PGBENCH" "$PGBOUNCER" "$DUALKEY"; do
  [[ -x $tool ]] || { echo "missing: $tool (scripts/install-deps.sh)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/dualkey-pgbench-XXXXXX)
chmod 755 "$WORK"
RUN_AS=()
if [[ $(id -u) == 0 ]]; then
  PG_USER=${DUALKEY_PG_USER:-nobody}
  RUN_AS=(setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups)
  chown "$PG_USER" "$WORK"
fi
as_server() { "${RUN_AS[@]}" "$@"; }

PG_TLS_OPTS=""
if [[ $TLS != 0 ]]; then
  # One self-signed certificate for PostgreSQL, pgbouncer and dualkey. The key
  # belongs to the user PostgreSQL and pgbouncer run as, mode 0600 (PostgreSQL
  # refuses a key others can read); dualkey runs as this script's user (root
  # or that same user), which can read it.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >"$WORK/openssl.log" 2>&1 ||
    { echo "openssl req failed: $(cat "$WORK/openssl.log")" >&2; exit 1; }
  chmod 600 "$WORK/tls.key"
  chmod 644 "$WORK/tls.crt"
  [[ -n ${PG_USER:-} ]] && chown "$PG_USER" "$WORK/tls.key"
  PG_TLS_OPTS=" -c ssl=on -c ssl_cert_file=$WORK/tls.crt -c ssl_key_file=$WORK/tls.key"
fi
# The sslmode pgbench uses: for direct, and for the proxies (and the floor).
# Unset without TLS, as before (libpq's default, prefer; nothing offers TLS).
DIRECT_SSLMODE="" PROXY_SSLMODE=""
if [[ $TLS != 0 ]]; then
  DIRECT_SSLMODE=require
  PROXY_SSLMODE=$([[ $CLIENT_TLS == 1 ]] && echo require || echo disable)
fi

PIDS=()
cleanup() {
  # pgbouncer runs under a wrapper (setpriv): its own pid is in its pidfile.
  [[ -f $WORK/pgbouncer.pid ]] && PIDS+=("$(cat "$WORK/pgbouncer.pid")")
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  as_server "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PASSWORD=bench-$RANDOM$RANDOM
echo "$PASSWORD" >"$WORK/pw"
chmod 644 "$WORK/pw"
PG_PORT=$(free_port)
echo "== PostgreSQL on 127.0.0.1:$PG_PORT (scale $SCALE)" >&2
as_server "$PG_BIN/initdb" -D "$WORK/data" -U bench --pwfile="$WORK/pw" -A scram-sha-256 \
  --no-sync >"$WORK/initdb.log" 2>&1
as_server "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w \
  -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60$PG_TLS_OPTS" \
  start >/dev/null
export PGPASSWORD=$PASSWORD
PGHOST=127.0.0.1 PGUSER=bench "$PG_BIN/createdb" -p "$PG_PORT" bench
"$PGBENCH" -h 127.0.0.1 -p "$PG_PORT" -U bench -i -s "$SCALE" -q bench >"$WORK/init.log" 2>&1

# pgbouncer, session mode, same credentials.
PB_PORT=$(free_port)
cat >"$WORK/userlist.txt" <<EOF
"bench" "$PASSWORD"
EOF
cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
bench = host=$([[ $UPSTREAM == unix ]] && echo "$WORK" || echo 127.0.0.1) port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = session
default_pool_size = 20
max_client_conn = 100
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
if [[ $CLIENT_TLS == 1 ]]; then
  cat >>"$WORK/pgbouncer.ini" <<EOF
client_tls_sslmode = require
client_tls_key_file = $WORK/tls.key
client_tls_cert_file = $WORK/tls.crt
EOF
fi
[[ $SERVER_TLS == 1 ]] && echo "server_tls_sslmode = require" >>"$WORK/pgbouncer.ini"
chmod 644 "$WORK/userlist.txt" "$WORK/pgbouncer.ini"
as_server "$PGBOUNCER" "$WORK/pgbouncer.ini" >/dev/null 2>&1 &
PIDS+=($!)

# dualkey pg-proxy with an agent token.
if [[ $UPSTREAM == unix ]]; then
  UPSTREAM_URI="postgresql://bench@/bench?host=$WORK&port=$PG_PORT"
else
  UPSTREAM_URI="postgresql://bench@127.0.0.1:$PG_PORT?sslmode=$([[ $SERVER_TLS == 1 ]] && echo require || echo disable)"
fi
DK_TLS=()
[[ $CLIENT_TLS == 1 ]] && DK_TLS=(--tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key")
mkdir -p "$WORK/state"
TOKEN=$("$DUALKEY" token add bench --scope pg --state-dir "$WORK/state" --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
DAEMON_SOCKET="$WORK/no-daemon.sock" DAEMON_PID=""
if [[ $AUDIT != 0 ]]; then
  # The daemon the proxy reports every decision to.
  DAEMON_SOCKET="$WORK/daemon.sock"
  mkdir -p "$WORK/daemon"
  chmod 700 "$WORK/daemon"
  # In a session of its own, as `dualkey setup` and systemd run it: with the
  # kernel's autogroup scheduling (sched_autogroup_enabled) each session is
  # one scheduling entity, and each PostgreSQL backend calls setsid, so a
  # daemon left in this script's session would take its CPU out of the
  # share of pgbench and the proxies (docs/pg-proxy.md, "What the audit costs").
  setsid "$DUALKEY" serve --state-dir "$WORK/daemon" --socket "$DAEMON_SOCKET" --quiet \
    >"$WORK/daemon.out" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  for _ in $(seq 100); do [[ -S $DAEMON_SOCKET ]] && break; sleep 0.05; done
  [[ -S $DAEMON_SOCKET ]] || { echo "dualkey serve did not start: $(cat "$WORK/daemon.out")" >&2; exit 1; }
fi
DK_LOG="$WORK/dualkey.out"
PGPASSWORD=$PASSWORD "$DUALKEY" pg-proxy --listen 127.0.0.1:0 --threads "$THREADS" "${FAST_PATH[@]}" \
  --upstream "$UPSTREAM_URI" "${DK_TLS[@]}" \
  --state-dir "$WORK/state" --socket "$DAEMON_SOCKET" --quiet >"$DK_LOG" 2>&1 &
PIDS+=($!)
DK_PID=$!
for _ in $(seq 100); do grep -q listening "$DK_LOG" 2>/dev/null && break; sleep 0.05; done
DK_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\) ->.*/\1/p' "$DK_LOG")
[[ -n $DK_PORT ]] || { echo "dualkey pg-proxy did not start: $(cat "$DK_LOG")" >&2; exit 1; }
for _ in $(seq 100); do
  PGPASSWORD=$PASSWORD "$PG_BIN/psql" -h 127.0.0.1 -p "$PB_PORT" -U bench -Atc 'select 1' bench \
    >/dev/null 2>&1 && break
  sleep 0.05
done

PB_PID=$(cat "$WORK/pgbouncer.pid" 2>/dev/null || true)

# The floor: a forwarder that inspects nothing (bench/bare_forwarder.cc, built
# with the benchmarks), when it is there. Not in the ratios.
FLOOR=$(dirname "$DUALKEY")/bare_forwarder
FLOOR_PORT="" FLOOR_PID=""
if [[ -x $FLOOR ]]; then
  "$FLOOR" 0 127.0.0.1 "$PG_PORT" >"$WORK/floor.out" 2>&1 &
  FLOOR_PID=$!
  PIDS+=("$FLOOR_PID")
  for _ in $(seq 100); do grep -q listening "$WORK/floor.out" 2>/dev/null && break; sleep 0.05; done
  FLOOR_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/floor.out")
fi
UN_PORT="" UN_PID=""
if [[ $AUDIT == both ]]; then
  PGPASSWORD=$PASSWORD "$DUALKEY" pg-proxy --listen 127.0.0.1:0 --threads "$THREADS" "${FAST_PATH[@]}" \
    --upstream "$UPSTREAM_URI" "${DK_TLS[@]}" \
    --state-dir "$WORK/state" --socket "$WORK/no-daemon.sock" --quiet >"$WORK/unaudited.out" 2>&1 &
  UN_PID=$!
  PIDS+=("$UN_PID")
  for _ in $(seq 100); do grep -q listening "$WORK/unaudited.out" 2>/dev/null && break; sleep 0.05; done
  UN_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\) ->.*/\1/p' "$WORK/unaudited.out")
  [[ -n $UN_PORT ]] || { echo "the unaudited pg-proxy did not start" >&2; exit 1; }
fi
TARGETS=(direct pgbouncer dualkey)
[[ -n $UN_PORT ]] && TARGETS+=(unaudited)
[[ -n $FLOOR_PORT ]] && TARGETS+=(floor)

# CPU time (user + system, clock ticks) processes have used so far (PIDs
# separated by commas).
cpu_ticks() {
  local total=0 pid
  for pid in ${1//,/ }; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# BENCH_SYSCALLS=1: system calls (by kind) and context switches per
# transaction of each proxy's -c 8 runs (perf stat on its PIDs), printed at the end.
SYSCALL_EVENTS="raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto"
SYSCALL_EVENTS+=",syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_read"
SYSCALL_EVENTS+=",syscalls:sys_enter_write,syscalls:sys_enter_futex,sched:sched_switch"
TXNS_FILE="$WORK/dualkey-transactions"
echo 0 >"$TXNS_FILE"

# run NAME PORT PASSWORD USER CLIENTS [PIDS] -> "tps avg_ms p50_us cpu_us_per_txn"
# (the proxy's CPU time per transaction, when its PIDs are given)
run() {
  local name=$1 port=$2 password=$3 user=$4 clients=$5 pid=${6:-} jobs=1
  [[ $clients -gt 1 ]] && jobs=2
  local dir="$WORK/log-$name-$clients"
  rm -rf "$dir"
  mkdir -p "$dir"
  local out before=0 ticks perf_pid=""
  [[ -n $pid ]] && before=$(cpu_ticks "$pid")
  if [[ -n ${BENCH_PERF:-} && ($name == dualkey || $name == pgbouncer) && $clients -gt 1 ]]; then
    mkdir -p "$BENCH_PERF"
    perf record ${BENCH_PERF_OPTIONS:--g} -a -o "$BENCH_PERF/$name-$(date +%s).data" -- sleep "$SECONDS_PER_RUN" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local stat_pid=""
  local idle_before=""
  if [[ -n ${BENCH_SYSCALLS:-} && -n $pid && $clients -gt 1 ]]; then
    idle_before=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    perf stat -x, -e "$SYSCALL_EVENTS" -p "$pid" -o "$dir/syscalls.csv" -- sleep "$SECONDS_PER_RUN" \
      >/dev/null 2>&1 &
    stat_pid=$!
  fi
  local sslmode=$PROXY_SSLMODE
  [[ $name == direct ]] && sslmode=$DIRECT_SSLMODE
  out=$(cd "$dir" && if [[ -n $sslmode ]]; then export PGSSLMODE=$sslmode; fi &&
    PGPASSWORD=$password "$PGBENCH" -h 127.0.0.1 -p "$port" -U "$user" -n -S \
    -c "$clients" -j "$jobs" -T "$SECONDS_PER_RUN" -l bench 2>&1) || {
    echo "pgbench via $name failed: $out" >&2
    # The floor is a reference only: its failure does not end the comparison.
    [[ $name == floor ]] && { echo "0 0 0 -"; return; }
    exit 1
  }
  [[ -n $perf_pid ]] && wait "$perf_pid"
  if [[ -n $stat_pid ]]; then
    wait "$stat_pid" || true
    local txns
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    # name: events per transaction, e.g. "sendto 1.00 recvfrom 2.01 ..."
    # The machine's idle time during the run: with every CPU busy, TPS
    # follows CPU per transaction; idle CPUs are time the pipeline stalled.
    local idle
    idle=$(awk -v b="$idle_before" '/^cpu / { split(b, x, " ");
      printf "%.1f%%", 100 * ($5 + $6 - x[1]) / ($2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 - x[2]) }' /proc/stat)
    echo "$name idle $idle $(awk -F, -v n="$txns" '$3 ~ /:/ { e = $3; sub(/.*:(sys_enter_)?/, "", e);
      printf "%s %.2f ", e, $1 / n }' "$dir/syscalls.csv")" >>"$WORK/syscalls-per-txn"
  fi
  local tps avg p50
  if [[ $name == dualkey ]]; then
    echo $(($(cat "$TXNS_FILE") + $(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out"))) \
      >"$TXNS_FILE"
  fi
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  avg=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
  # pgbench -l: "client xact time_us script epoch epoch_us"; the third field
  # is the transaction's latency in microseconds.
  p50=$(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n |
    awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}')
  local cpu=-
  if [[ -n $pid ]]; then
    ticks=$(($(cpu_ticks "$pid") - before))
    cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v tps="$tps" -v s="$SECONDS_PER_RUN" \
      'BEGIN { printf "%.1f", t / hz * 1e6 / (tps * s) }')
  fi
  echo "$tps $avg $p50 $cpu"
}

# tls_check NAME PORT PASSWORD SSLMODE UPSTREAM_SSL [LOG]: a session through
# the target, with pgbench's sslmode, must be TLS on the client side when
# SSLMODE is require (psql's \conninfo) and not when it is disable, and the
# backend PostgreSQL sees TLS or not as UPSTREAM_SSL (t or f) says
# (pg_stat_ssl). LOG: the target's output, shown when the check fails.
tls_check() {
  local name=$1 port=$2 password=$3 sslmode=$4 want=$5 log=${6:-} out client ssl
  out=$(PGSSLMODE=$sslmode PGPASSWORD=$password "$PG_BIN/psql" -X -h 127.0.0.1 -p "$port" \
    -U bench -At -c '\conninfo' -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' \
    bench 2>&1) || {
    echo "TLS check via $name failed: $out" >&2
    [[ -n $log ]] && echo "$name, its last lines: $(tail -5 "$log")" >&2
    exit 1
  }
  client=$(grep -o '^SSL connection (protocol: [^,]*' <<<"$out" | sed 's/.*protocol: //' || true)
  ssl=$(tail -1 <<<"$out")
  local want_client=""
  [[ $sslmode == require ]] && want_client=TLS
  if [[ ${client:+TLS} != "$want_client" || $ssl != "$want" ]]; then
    echo "TLS check via $name: expected client TLS $([[ $sslmode == require ]] && echo on || echo off)," \
      "backend ssl=$want; got: $out" >&2
    exit 1
  fi
  echo "   $name: client ${client:-plain}, backend $([[ $ssl == t ]] && echo TLS || echo plain)" >&2
}
if [[ $TLS != 0 ]]; then
  UPSTREAM_SSL=$([[ $SERVER_TLS == 1 ]] && echo t || echo f)
  echo "== TLS check (BENCH_TLS=$TLS)" >&2
  tls_check direct "$PG_PORT" "$PASSWORD" "$DIRECT_SSLMODE" t
  tls_check pgbouncer "$PB_PORT" "$PASSWORD" "$PROXY_SSLMODE" "$UPSTREAM_SSL" "$WORK/pgbouncer.log"
  tls_check dualkey "$DK_PORT" "$TOKEN" "$PROXY_SSLMODE" "$UPSTREAM_SSL" "$DK_LOG"
  if [[ -n $UN_PORT ]]; then
    tls_check unaudited "$UN_PORT" "$TOKEN" "$PROXY_SSLMODE" "$UPSTREAM_SSL" "$WORK/unaudited.out"
  fi
fi

echo "== pgbench -S, $SECONDS_PER_RUN s per run, $ROUNDS rounds interleaved, upstream over" \
  "$UPSTREAM (dualkey threads: $THREADS, fast path threads: ${DUALKEY_FAST_PATH_THREADS:-the default})" >&2
# Each round runs every target once; a target's figures are the round with
# its median TPS, so one noisy run (this machine shares its cores) does not
# decide the ratios.
declare -A R
for round in $(seq "$ROUNDS"); do
  # The order rotates from round to round: no target always runs first or last.
  shift_by=$(((round - 1) % ${#TARGETS[@]}))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  for clients in 8 1; do
    for target in "${order[@]}"; do
      case $target in
        direct) R[direct_${clients}_$round]=$(run direct "$PG_PORT" "$PASSWORD" bench "$clients") ;;
        pgbouncer)
          R[pgbouncer_${clients}_$round]=$(run pgbouncer "$PB_PORT" "$PASSWORD" bench "$clients" \
            "$PB_PID")
          ;;
        dualkey)
          R[dualkey_${clients}_$round]=$(run dualkey "$DK_PORT" "$TOKEN" bench "$clients" \
            "$DK_PID${DAEMON_PID:+,$DAEMON_PID}")
          ;;
        unaudited)
          R[unaudited_${clients}_$round]=$(run unaudited "$UN_PORT" "$TOKEN" bench "$clients" \
            "$UN_PID")
          ;;
        floor)
          R[floor_${clients}_$round]=$(run floor "$FLOOR_PORT" "$PASSWORD" bench "$clients" \
            "$FLOOR_PID")
          ;;
      esac
    done
  done
  echo "   round $round: $(for t in "${TARGETS[@]}"; do
    printf '%s c8 %s c1 %s; ' "$t" "$(cut -d' ' -f1,3 <<<"${R[${t}_8_$round]}")" \
      "$(cut -d' ' -f1,3 <<<"${R[${t}_1_$round]}")"
  done)(tps p50_us)" >&2
done
for target in "${TARGETS[@]}"; do
  for clients in 8 1; do
    R[${target}_$clients]=$(for round in $(seq "$ROUNDS"); do
      echo "${R[${target}_${clients}_$round]}"
    done | sort -n -k1,1 | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
  done
done

printf '%-10s | %10s %8s %7s %8s | %10s %8s %7s %8s\n' target "tps(-c8)" "avg_ms" "p50_us" \
  "cpu_us" "tps(-c1)" "avg_ms" "p50_us" "cpu_us"
for target in "${TARGETS[@]}"; do
  read -r t8 a8 p8 c8 <<<"${R[${target}_8]}"
  read -r t1 a1 p1 c1 <<<"${R[${target}_1]}"
  printf '%-10s | %10.0f %8.3f %7s %8s | %10.0f %8.3f %7s %8s\n' "$target" "$t8" "$a8" "$p8" \
    "$c8" "$t1" "$a1" "$p1" "$c1"
done
echo "(cpu_us: the proxy process's CPU time per transaction$([[ $AUDIT != 0 ]] && echo ", dualkey's with its daemon's"); floor: a forwarder that inspects nothing$([[ $AUDIT == both ]] && echo "; unaudited: dualkey with no daemon"))"
if [[ $AUDIT != 0 ]]; then
  # Every statement the proxy decided is in the daemon's log once the
  # reporter has flushed (at most 20 ms; the proxy flushes at exit).
  kill "$DK_PID" 2>/dev/null || true
  wait "$DK_PID" 2>/dev/null || true
  statements=$(cat "$TXNS_FILE")
  awk -v t="$(cpu_ticks "$DAEMON_PID")" -v hz="$(getconf CLK_TCK)" -v n="$statements" \
    'BEGIN { printf "the daemon'"'"'s CPU time per audited statement: %.1f us (in dualkey'"'"'s cpu_us)\n", t / hz * 1e6 / n }'

  # Counted as `dualkey audit export` gives them back: each decision of a
  # batch ("decisions" entry) as a line of its own.
  "$DUALKEY" audit export --file "$WORK/daemon/audit.jsonl" >"$WORK/audit-export.jsonl"
  recorded=$(grep -c '"kind":"decision".*"source":"pg_proxy"' "$WORK/audit-export.jsonl" || true)
  gaps=$(grep -c '"kind":"audit_gap"' "$WORK/audit-export.jsonl" || true)
  entries=$(grep -c '"kind":"decisions"' "$WORK/daemon/audit.jsonl" || true)
  echo "audited: $recorded pg_proxy decision records (in $entries entries," \
    "$(du -h "$WORK/daemon/audit.jsonl" | cut -f1)) for $statements pgbench statements" \
    "(plus each session's own), $gaps gap records"
fi
if [[ -f $WORK/syscalls-per-txn ]]; then
  echo "per transaction at -c 8 (each run):"
  sort "$WORK/syscalls-per-txn" | sed 's/^/   /'
fi
read -r d8 _ _ _ <<<"${R[direct_8]}"
read -r b8 _ _ _ <<<"${R[pgbouncer_8]}"
read -r k8 _ _ _ <<<"${R[dualkey_8]}"
read -r _ _ dp50 _ <<<"${R[direct_1]}"
read -r _ _ bp50 _ <<<"${R[pgbouncer_1]}"
read -r _ _ kp50 _ <<<"${R[dualkey_1]}"
echo "pgbouncer added_p50_us=$((bp50 - dp50))"
awk -v k="$k8" -v b="$b8" -v d="$d8" -v kp="$kp50" -v dp="$dp50" 'BEGIN {
  printf "tps_vs_pgbouncer=%.2f tps_vs_direct=%.2f added_p50_us=%d\n", k / b, k / d, kp - dp }'
