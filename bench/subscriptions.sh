#!/usr/bin/env bash
# Subscriptions under load: SUBSCRIBERS graphql-ws sockets (default 1000) subscribed to one post's
# `commentAdded`, while a writer adds RATE comments a second (default 10) for DURATION seconds (default 30).
# Reports delivery latency (comment sent → event received, p50/p99/max), deliveries against the expected
# count, the server's memory per idle socket and its CPU while writing (examples/subscription_bench.rs).
#
#   bash bench/subscriptions.sh                 # board on MariaDB + Redis (events over Redis pub/sub)
#   BACKEND=sqlite bash bench/subscriptions.sh  # the embedded default (in-process events)
#
# Needs cargo, a MariaDB (root without password on MYSQL_HOST:MYSQL_PORT, default 127.0.0.1:3306) and a Redis
# (REDIS_HOST:REDIS_PORT, default 127.0.0.1:6379) for the default backend. Writes
# bench/results/subscriptions-<UTC timestamp>.{json,md}. The client runs on the same machine and takes CPU
# from the server.
set -euo pipefail

SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-10}
DURATION=${DURATION:-30}
BACKEND=${BACKEND:-mariadb}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
PORT=${PORT:-18093}
DB_NAME=board_subbench
CACHE_PREFIX=subbench

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/board-subbench.XXXXXX)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
SERVER_PID=""

cleanup() {
  local status=$?
  set +e
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  if [[ $BACKEND == mariadb ]]; then
    mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot -e "DROP DATABASE IF EXISTS $DB_NAME"
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$CACHE_PREFIX:*" |
      xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
  fi
  log "server log kept in $WORK/board.log"
  exit "$status"
}
trap cleanup EXIT

log "building the release binary and the load client"
(cd "$ROOT" && cargo build --release --bin board --example subscription_bench)
# One socket per subscriber on each side: as many open files as the hard limit allows.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) > 2 * SUBSCRIBERS + 256)) ||
  { log "open files limited to $(ulimit -n); $SUBSCRIBERS subscribers need more (ulimit -Hn)"; exit 1; }

ENV=(RUST_LOG=warn BOARD_CONFIG="$WORK/none.toml" BOARD_BIND="127.0.0.1:$PORT"
  BOARD_JWT_SECRET="subscription-bench-secret-0123456789abcdef"
  BOARD_WS_CONNECTIONS_PER_CLIENT=$((SUBSCRIBERS + 10)) BOARD_MAX_CONNECTIONS=$((SUBSCRIBERS + 256))
  BOARD_CREATES_PER_USER=1000000 PATH="$PATH")
if [[ $BACKEND == mariadb ]]; then
  mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot -e \
    "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  ENV+=(DATABASE_URL="mysql://root@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME" REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0"
    BOARD_CACHE_PREFIX="$CACHE_PREFIX")
  LABEL="MariaDB + Redis (events over Redis pub/sub)"
else
  ENV+=(DATABASE_URL="sqlite://$WORK/board.db")
  LABEL="SQLite + in-process events"
fi

env -i "${ENV[@]}" "$TARGET_DIR/release/board" serve >"$WORK/board.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/board.log" >&2; exit 1; }

log "$SUBSCRIBERS subscribers, $RATE comments/s for $DURATION s on $LABEL"
"$TARGET_DIR/release/examples/subscription_bench" --url "http://127.0.0.1:$PORT" --pid "$SERVER_PID" \
  --subscribers "$SUBSCRIBERS" --rate "$RATE" --seconds "$DURATION" >"$WORK/report.json"

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/subscriptions-$STAMP"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
jq --arg backend "$LABEL" --arg commit "$COMMIT" --arg stamp "$STAMP" --argjson cores "$(nproc)" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  '{timestamp: $stamp, commit: $commit, backend: $backend, cores: $cores, load_average_before: $load} + .' \
  "$WORK/report.json" >"$OUT.json"
jq -r '"| \(.backend) | \(.subscribers) | \(.comments_per_second) | \(.deliveries) / \(.deliveries_expected) | \(.latency_ms.p50 * 10 | round / 10) | \(.latency_ms.p99 * 10 | round / 10) | \(.latency_ms.max * 10 | round / 10) | \(.server.memory_per_idle_connection_kib * 10 | round / 10) | \(.server.cpu_cores_while_writing * 100 | round / 100) | \(.server.rss_mib_at_end * 10 | round / 10) |"' \
  "$OUT.json" >"$WORK/row.md"
{
  echo "# board subscriptions benchmark $STAMP"
  echo
  echo "commit \`$COMMIT\`, $(nproc) cores shared by the server, the client, MariaDB and Redis; $DURATION s of writes."
  echo
  echo "| backend | subscribers | comments/s | deliveries | p50 ms | p99 ms | max ms | KiB per idle socket | server CPU (cores) | RSS MiB at end |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  cat "$WORK/row.md"
} >"$OUT.md"
cat "$OUT.md"
log "wrote $OUT.json and $OUT.md"
