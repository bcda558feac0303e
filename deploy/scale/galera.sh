#!/usr/bin/env bash
# Multi-primary Galera, run for real on one machine: a 3-node MariaDB Galera cluster as processes on
# 127.0.0.1 (no containers), HAProxy in front of it, and `board serve` processes writing through
# different nodes at once. deploy/scale/scenarios.py then races requests through them and checks what
# must hold (exact counts, gap-free versions, one winner per unique name, no category cycle,
# read-your-writes across nodes, no failed request and no lost acknowledged write when a node dies).
#
#   bash deploy/scale/galera.sh              # full size (about a minute plus the build)
#   SMOKE=1 bash deploy/scale/galera.sh      # fewer rounds, shorter load (CI)
#
# Environment: BOARD_BIN (default target/debug/board, built with `cargo build --bin board` when missing);
# SMOKE=1; ROUNDS (signup and category-move rounds, default 100, 30 with SMOKE); LOAD_SECS (the node-kill
# load, default 15, 10 with SMOKE); REDIS_URL (default redis://127.0.0.1:6379/9, keys under the prefix
# `galera`); SINGLE=0 skips the comparison on the single MariaDB at 127.0.0.1:3306 (default: run it when
# root reaches that server through its unix socket); KEEP=1 keeps the temporary directory (logs, data);
# ONLY=abcdefgh picks scenarios; VOTE_ROUNDS (default 3) sets scenario a's rounds;
# CLUSTER_ONLY=1 only brings up the cluster and HAProxy and waits (for trials by hand; Ctrl-C stops them).
# Ports: MariaDB 3311-3313, gcomm 4571-4573, IST 4581-4583, SST 4591-4593, HAProxy 3320, board 18111-18115.
#
# Installs galera-4, mariadb-server, haproxy, rsync and redis-tools with apt-get when missing (as root).
# Exits non-zero when a scenario's expectation fails; every process it started is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SMOKE=${SMOKE:-}
[[ $SMOKE == 0 ]] && SMOKE=""
if [[ -n $SMOKE ]]; then
  ROUNDS=${ROUNDS:-30} LOAD_SECS=${LOAD_SECS:-10}
else
  ROUNDS=${ROUNDS:-100} LOAD_SECS=${LOAD_SECS:-15}
fi
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/9}
CACHE_PREFIX=galera
BOARD_BIN=${BOARD_BIN:-$ROOT/target/debug/board}
NODES=(1 2 3)
SQL_PORT() { echo $((3310 + $1)); }
HAPROXY_PORT=3320
PORT_A=18111 PORT_B=18112 PORT_C=18113 PORT_SA=18114 PORT_SB=18115
DB=board_scale
SINGLE_DB=board_scale_single
USERS=40

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- internal: start node $2 of the cluster in $1 (also used to bring a killed node back) ----
mariadbd_bin() { command -v mariadbd || echo /usr/sbin/mariadbd; }
start_node() { # $1 = work dir, $2 = node, [$3 = --wsrep-new-cluster]
  local dir=$1/node$2
  setsid "$(mariadbd_bin)" --defaults-file="$dir/my.cnf" ${3:-} >>"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  disown $! # its end (killed in scenario f, stopped by the clean-up) is no job of this shell's to report
}
node_sql() { # $1 = work dir, $2 = node, then client arguments
  local dir=$1/node$2
  shift 2
  mariadb --socket="$dir/mysqld.sock" -uroot -N -B "$@"
}
node_status() { node_sql "$1" "$2" -e "SHOW STATUS LIKE '$3'" 2>/dev/null | cut -f2; }
wait_synced() { # $1 = work dir, $2 = node, $3 = expected cluster size, $4 = seconds
  local i
  for ((i = 0; i < $4 * 2; i++)); do
    if [[ $(node_status "$1" "$2" wsrep_local_state_comment) == Synced &&
      $(node_status "$1" "$2" wsrep_cluster_size) == "$3" ]]; then
      return 0
    fi
    kill -0 "$(cat "$1/node$2/pid")" 2>/dev/null || { tail -30 "$1/node$2/error.log" >&2; return 1; }
    sleep 0.5
  done
  tail -30 "$1/node$2/error.log" >&2
  return 1
}
if [[ ${1:-} == rejoin ]]; then # rejoin <work dir> <node>: start a killed node again, wait until synced
  start_node "$2" "$3"
  wait_synced "$2" "$3" 3 120 || die "node $3 did not rejoin within 120 s"
  exit 0
fi

# ---- 1. packages ----
missing=()
[[ -f /usr/lib/galera/libgalera_smm.so ]] || missing+=(galera-4)
command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
command -v mariadb >/dev/null || missing+=(mariadb-client)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v rsync >/dev/null || missing+=(rsync)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || die "not root: install ${missing[*]} first"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [[ -z ${CLUSTER_ONLY:-} && ! -x $BOARD_BIN ]]; then
  log "building board (cargo build --bin board)"
  cargo build --bin board
  BOARD_BIN=$ROOT/target/debug/board
fi
REDIS_HOST=$(sed -E 's#^redis://([^:/]+).*#\1#' <<<"$REDIS_URL")
REDIS_PORT=$(sed -E 's#^redis://[^:/]+:([0-9]+).*#\1#; t; s#.*#6379#' <<<"$REDIS_URL")
REDIS_DBNUM=$(sed -E 's#.*/([0-9]+)$#\1#; t; s#.*#0#' <<<"$REDIS_URL")
[[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "no Redis at $REDIS_URL"
flush_prefix() {
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$REDIS_DBNUM" --scan --pattern "$CACHE_PREFIX*:*" |
    xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$REDIS_DBNUM" del >/dev/null
}
for port in $(for n in "${NODES[@]}"; do SQL_PORT "$n"; echo $((4570 + n)) $((4580 + n)) $((4590 + n)); done) \
  $HAPROXY_PORT $PORT_A $PORT_B $PORT_C $PORT_SA $PORT_SB; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is taken"; fi
done

# ---- 2. clean-up of everything started below ----
WORK=$(mktemp -d /tmp/board-galera.XXXXXX)
chmod 755 "$WORK"
PIDS=()
SINGLE_CREATED=""
cleanup() {
  local status=$? pid n
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for n in "${NODES[@]}"; do
    [[ -f $WORK/node$n/pid ]] && kill "$(cat "$WORK/node$n/pid")" 2>/dev/null
  done
  for n in "${NODES[@]}"; do
    [[ -f $WORK/node$n/pid ]] || continue
    pid=$(cat "$WORK/node$n/pid")
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  done
  [[ -n $SINGLE_CREATED ]] && mariadb -uroot -e "DROP DATABASE IF EXISTS $SINGLE_DB" 2>/dev/null
  flush_prefix 2>/dev/null
  if [[ -n ${KEEP:-} ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 3. the cluster ----
# As root the server runs as `mysql`: rsync's daemon, which receives a joiner's state transfer, drops root
# for `nobody` and could not write a root-owned data directory.
RUN_USER=$(id -un)
if [[ $RUN_USER == root ]] && id mysql >/dev/null 2>&1; then RUN_USER=mysql; fi
for n in "${NODES[@]}"; do
  dir=$WORK/node$n
  mkdir -p "$dir/data"
  cat >"$dir/my.cnf" <<EOF
[mysqld]
user=$RUN_USER
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
port=$(SQL_PORT "$n")
bind-address=127.0.0.1
skip-name-resolve
max_connections=300
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
default_storage_engine=InnoDB
innodb_buffer_pool_size=96M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=2
innodb_autoinc_lock_mode=2
binlog_format=ROW
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=board_scale
wsrep_cluster_address=gcomm://127.0.0.1:4571,127.0.0.1:4572,127.0.0.1:4573
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$((4570 + n))
wsrep_node_incoming_address=127.0.0.1:$(SQL_PORT "$n")
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((4590 + n))
wsrep_slave_threads=2
# A dead node is suspected after 3 s and evicted after 6 s (defaults 5 s / 15 s): commits on the survivors
# wait that long for it.
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((4570 + n));ist.recv_addr=127.0.0.1:$((4580 + n));gcache.size=64M;evs.keepalive_period=PT1S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.inactive_check_period=PT1S"
EOF
done
chown -R "$RUN_USER" "$WORK"/node*
log "initialising node 1 ($WORK)"
mariadb-install-db --no-defaults --datadir="$WORK/node1/data" --user="$RUN_USER" \
  --auth-root-authentication-method=normal --skip-test-db >"$WORK/node1/install.log" 2>&1 ||
  { cat "$WORK/node1/install.log" >&2; die "mariadb-install-db failed"; }
t0=$(date +%s)
start_node "$WORK" 1 --wsrep-new-cluster
wait_synced "$WORK" 1 1 120 || die "node 1 did not bootstrap within 120 s"
for n in 2 3; do
  start_node "$WORK" "$n"
  wait_synced "$WORK" "$n" "$n" 180 || die "node $n did not join (SST) within 180 s"
done
CLUSTER_SECS=$(($(date +%s) - t0))
log "cluster up: wsrep_cluster_size=$(node_status "$WORK" 1 wsrep_cluster_size) in ${CLUSTER_SECS} s ($(node_sql "$WORK" 1 -e 'SELECT VERSION()'), galera $(node_status "$WORK" 1 wsrep_provider_version))"
node_sql "$WORK" 1 <<SQL
CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER 'board'@'127.0.0.1' IDENTIFIED BY 'board';
GRANT ALL PRIVILEGES ON $DB.* TO 'board'@'127.0.0.1';
CREATE USER 'haproxy_check'@'127.0.0.1';
SQL

# ---- 4. HAProxy ----
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    retries 3
    option redispatch
listen galera
    bind 127.0.0.1:$HAPROXY_PORT
    balance leastconn
    option mysql-check user haproxy_check post-41
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
    server node1 127.0.0.1:3311 check
    server node2 127.0.0.1:3312 check
    server node3 127.0.0.1:3313 check
EOF
"$HAPROXY" -c -f "$WORK/haproxy.cfg" >/dev/null || die "haproxy rejects its configuration"
"$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)

if [[ -n ${CLUSTER_ONLY:-} ]]; then
  log "CLUSTER_ONLY: nodes on 127.0.0.1:3311-3313 (user board/board, database $DB), HAProxy on $HAPROXY_PORT; Ctrl-C stops them"
  while :; do sleep 3600 & wait $!; done
fi

# ---- 5. board ----
JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
url_on() { echo "mysql://board:board@127.0.0.1:$1/$2"; }
COMMON_ENV=(RUST_LOG=warn BOARD_LOG_FORMAT=json BOARD_JWT_SECRET="$JWT_SECRET" BOARD_BCRYPT_COST=4
  BOARD_AUTO_MIGRATE=false BOARD_CONFIG="$WORK/none.toml" BOARD_SIGN_UPS_PER_CLIENT=1000000
  BOARD_EDITS_PER_USER=1000000 BOARD_CREATES_PER_USER=1000000 BOARD_POINTS_PER_WINDOW=1000000000
  BOARD_MAX_CONNECTIONS_PER_CLIENT=4096 BOARD_BCRYPT_QUEUE=1000 BOARD_BCRYPT_MAX_WAIT_MS=9000
  REDIS_URL="$REDIS_URL" BOARD_CACHE_PREFIX="$CACHE_PREFIX" PATH="$PATH")
board_env() { env -i "${COMMON_ENV[@]}" BOARD_CACHE_PREFIX="${ENV_PREFIX:-$CACHE_PREFIX}" DATABASE_URL="$1" "${@:2}"; }
flush_prefix
(cd "$WORK" && board_env "$(url_on 3311 $DB)" "$BOARD_BIN" migrate) >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; die "board migrate failed"; }
(cd "$WORK" && board_env "$(url_on 3311 $DB)" "$BOARD_BIN" seed --users $USERS --posts 2 --comments-per-post 0 --votes-per-post 0) \
  >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log" >&2; die "board seed failed"; }
ADMIN=$(sed -n 's/^demo login: \([^ ]*\) \/.*/\1/p' "$WORK/seed.log")
[[ -n $ADMIN ]] || die "the seed printed no demo login"
(cd "$WORK" && board_env "$(url_on 3311 $DB)" "$BOARD_BIN" set-role "$ADMIN" admin) >>"$WORK/seed.log" 2>&1 ||
  { cat "$WORK/seed.log" >&2; die "set-role failed"; }

start_board() { # $1 = name, $2 = port, $3 = database URL, [$4 = cache prefix: one per database]
  (cd "$WORK" && exec env -i "${COMMON_ENV[@]}" DATABASE_URL="$3" BOARD_BIND="127.0.0.1:$2" \
    BOARD_CACHE_PREFIX="${4:-$CACHE_PREFIX}" "$BOARD_BIN" serve) \
    >"$WORK/board-$1.log" 2>&1 &
  PIDS+=($!)
}
wait_board() { # $1 = name, $2 = port
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$2/readyz" 2>/dev/null && return 0
    sleep 0.2
  done
  tail -20 "$WORK/board-$1.log" >&2
  die "board $1 did not become ready on port $2"
}
start_board A $PORT_A "$(url_on 3311 $DB)"
start_board B $PORT_B "$(url_on 3312 $DB)"
start_board C $PORT_C "$(url_on $HAPROXY_PORT $DB)"
wait_board A $PORT_A; wait_board B $PORT_B; wait_board C $PORT_C

# ---- 6. the single MariaDB for comparison (same scenarios a-e, two processes on one server) ----
SINGLE_ARGS=()
if [[ ${SINGLE:-1} != 0 ]] && mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 &&
  [[ $(mariadb -uroot -N -B -e 'SELECT @@port') == 3306 ]]; then
  mariadb -uroot <<SQL
DROP DATABASE IF EXISTS $SINGLE_DB;
CREATE DATABASE $SINGLE_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'board_scale'@'127.0.0.1' IDENTIFIED BY 'board_scale';
ALTER USER 'board_scale'@'127.0.0.1' IDENTIFIED BY 'board_scale';
GRANT ALL PRIVILEGES ON $SINGLE_DB.* TO 'board_scale'@'127.0.0.1';
SQL
  SINGLE_CREATED=1
  SINGLE_URL="mysql://board_scale:board_scale@127.0.0.1:3306/$SINGLE_DB"
  ENV_PREFIX="$CACHE_PREFIX-single"
  (cd "$WORK" && board_env "$SINGLE_URL" "$BOARD_BIN" migrate &&
    board_env "$SINGLE_URL" "$BOARD_BIN" seed --users $USERS --posts 2 --comments-per-post 0 --votes-per-post 0) \
    >"$WORK/single-seed.log" 2>&1 || { cat "$WORK/single-seed.log" >&2; die "seeding the single MariaDB failed"; }
  SINGLE_ADMIN=$(sed -n 's/^demo login: \([^ ]*\) \/.*/\1/p' "$WORK/single-seed.log" | tail -1)
  (cd "$WORK" && board_env "$SINGLE_URL" "$BOARD_BIN" set-role "$SINGLE_ADMIN" admin) >>"$WORK/single-seed.log" 2>&1
  # Its own cache prefix: two databases under one prefix would read each other's entries.
  start_board SA $PORT_SA "$SINGLE_URL" "$ENV_PREFIX"
  start_board SB $PORT_SB "$SINGLE_URL" "$ENV_PREFIX"
  wait_board SA $PORT_SA; wait_board SB $PORT_SB
  SINGLE_ARGS=(--single-a "http://127.0.0.1:$PORT_SA" --single-b "http://127.0.0.1:$PORT_SB"
    --single-admin "$SINGLE_ADMIN" --single-sql "mariadb -uroot -N -B $SINGLE_DB")
else
  log "no root access to a MariaDB on 127.0.0.1:3306 through its socket: the single-server comparison is skipped"
fi

# ---- 7. the scenarios ----
log "running the scenarios (rounds $ROUNDS, node-kill load ${LOAD_SECS} s)"
set +e
python3 "$ROOT/deploy/scale/scenarios.py" \
  --a "http://127.0.0.1:$PORT_A" --b "http://127.0.0.1:$PORT_B" --c "http://127.0.0.1:$PORT_C" \
  --admin "$ADMIN" --users $USERS --password demo-password \
  --sql1 "mariadb --socket=$WORK/node1/mysqld.sock -uroot -N -B $DB" \
  --sql2 "mariadb --socket=$WORK/node2/mysqld.sock -uroot -N -B $DB" \
  --kill-pid-file "$WORK/node3/pid" --rounds "$ROUNDS" --load-secs "$LOAD_SECS" \
  --rejoin "bash $ROOT/deploy/scale/galera.sh rejoin $WORK 3" \
  --sql3 "mariadb --socket=$WORK/node3/mysqld.sock -uroot -N -B $DB" \
  --cluster-secs "$CLUSTER_SECS" --summary "$WORK/summary.json" --only "${ONLY:-abcdefgh}" --vote-rounds "${VOTE_ROUNDS:-3}" "${SINGLE_ARGS[@]}"
status=$?
set -e
# Lost updates Galera let through and the servers set right (docs/galera.md, "Counters").
settled=0
for port in $PORT_A $PORT_B $PORT_C; do
  n=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
    awk '/^board_counters_settled_total/ {s += $NF} END {print s + 0}')
  settled=$((settled + ${n%.*}))
done
log "kept counters settled to their rows by the servers: $settled"
if grep -q '"level":"ERROR"' "$WORK"/board-*.log 2>/dev/null; then
  log "errors logged by the servers (first 5):"
  grep -h '"level":"ERROR"' "$WORK"/board-*.log | head -5 >&2
fi
exit $status
