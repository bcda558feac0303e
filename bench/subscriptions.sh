#!/usr/bin/env bash
# Subscriptions under load: SUBSCRIBERS graphql-ws sockets (default 1000) subscribed to one post's
# `commentAdded`, while a writer adds RATE comments a second (default 10) for DURATION seconds (default 30).
# Reports delivery latency (comment sent → event received, p50/p99/max), deliveries against the expected
# count, the server's memory per idle socket and its CPU while writing (examples/subscription_bench.rs).
#
#   bash bench/subscriptions.sh                 # board on MariaDB + Redis (events over Redis pub/sub)
#   BACKEND=sqlite bash bench/subscriptions.sh  # the embedded default (in-process events)
#   SMOKE=1 bash bench/subscriptions.sh         # 200 subscribers for 3 s: checks that every event arrives
#
# The server runs with its production limits on what one client address holds open
# (max_connections_per_client 64, ws_connections_per_client 100): the client spreads its sockets over
# loopback source addresses, SOCKETS_PER_ADDRESS (16) from each of 127.0.0.2, 127.0.0.3, … (Linux routes all
# of 127/8 to lo), as many clients would. Only the server's total, max_connections (1 024), is raised when
# SUBSCRIBERS needs more.
#
# Needs cargo, jq, curl, and for the default backend a MariaDB (MYSQL_HOST:MYSQL_PORT, default 127.0.0.1:3306,
# as MYSQL_USER, default root, with MYSQL_PASSWORD, default none; every right on the database
# `board_subbench`, dropped at the end) and a Redis (REDIS_HOST:REDIS_PORT, default 127.0.0.1:6379; keys
# `subbench:*`, deleted at the end). Writes bench/results/subscriptions-<UTC timestamp>.{json,md} (RESULTS_DIR).
# The client runs on the same machine and takes CPU from the server. BENCH_PROFILE=debug uses the binaries
# `cargo build` makes instead of release ones.
#
# SMOKE=1 changes the defaults to SUBSCRIBERS=200 DURATION=3 BENCH_PROFILE=debug, results in the temporary
# directory. Every run fails when an event is missing, a comment could not be written or a subscription ended.
set -euo pipefail

SMOKE=${SMOKE:-}
if [[ -n $SMOKE && $SMOKE != 0 ]]; then
  SMOKE=1
  SUBSCRIBERS=${SUBSCRIBERS:-200} DURATION=${DURATION:-3} BENCH_PROFILE=${BENCH_PROFILE:-debug}
else
  SMOKE=""
fi
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-10}
DURATION=${DURATION:-30}
SOCKETS_PER_ADDRESS=${SOCKETS_PER_ADDRESS:-16}
BENCH_PROFILE=${BENCH_PROFILE:-release}
BACKEND=${BACKEND:-mariadb}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
PORT=${PORT:-18093}
DB_NAME=board_subbench
CACHE_PREFIX=subbench

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/board-subbench.XXXXXX)
if [[ -n $SMOKE ]]; then
  RESULTS_DIR=${RESULTS_DIR:-$WORK/results}   # smoke figures are not results: kept out of bench/results
else
  RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
SERVER_PID=""
DB_CREATED=""
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
mysql_cmd() { MYSQL_PWD="$MYSQL_PASSWORD" "$MYSQL_CLIENT" -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" "$@"; }
case $BENCH_PROFILE in
  release) CARGO_PROFILE=(--release) ;;
  debug) CARGO_PROFILE=() ;;
  *) die "BENCH_PROFILE is release or debug, not $BENCH_PROFILE" ;;
esac
for tool in curl jq; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [[ $BACKEND == mariadb ]]; then
  [[ -n $MYSQL_CLIENT ]] || die "a mariadb or mysql client is needed"
  command -v redis-cli >/dev/null || die "redis-cli is needed"
elif [[ $BACKEND != sqlite ]]; then
  die "BACKEND is mariadb or sqlite, not $BACKEND"
fi

cleanup() {
  local status=$?
  set +e
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -f "$WORK"/*.db "$WORK"/*.db-*
  if [[ -n $DB_CREATED ]]; then
    mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME"
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$CACHE_PREFIX:*" |
      xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
  fi
  log "server log kept in $WORK/board.log"
  exit "$status"
}
trap cleanup EXIT

log "building the $BENCH_PROFILE binary and the load client"
(cd "$ROOT" && cargo build "${CARGO_PROFILE[@]}" --bin board --example subscription_bench)
# One socket per subscriber on each side: as many open files as the hard limit allows.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) > 2 * SUBSCRIBERS + 256)) ||
  { log "open files limited to $(ulimit -n); $SUBSCRIBERS subscribers need more (ulimit -Hn)"; exit 1; }

# The per-address limits stay at their defaults (the client spreads its sockets over source addresses); the
# writer's comments per account are lifted, and the total of connections when the subscribers need more.
ENV=(RUST_LOG=warn BOARD_CONFIG="$WORK/none.toml" BOARD_BIND="127.0.0.1:$PORT"
  BOARD_JWT_SECRET="subscription-bench-secret-0123456789abcdef"
  BOARD_CREATES_PER_USER=1000000 PATH="$PATH")
if ((SUBSCRIBERS + 64 > 1024)); then
  ENV+=(BOARD_MAX_CONNECTIONS=$((SUBSCRIBERS + 256)))
fi
if [[ $BACKEND == mariadb ]]; then
  DB_CREATED=1
  mysql_cmd -e \
    "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  ENV+=(DATABASE_URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
    REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0" BOARD_CACHE_PREFIX="$CACHE_PREFIX")
  LABEL="MariaDB + Redis (events over Redis pub/sub)"
else
  ENV+=(DATABASE_URL="sqlite://$WORK/board.db")
  LABEL="SQLite + in-process events"
fi

(cd "$WORK" && exec env -i "${ENV[@]}" "$TARGET_DIR/$BENCH_PROFILE/board" serve >"$WORK/board.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/board.log" >&2; die "the server exited"; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/board.log" >&2; die "the server is not ready after 60 s"; }

log "$SUBSCRIBERS subscribers ($SOCKETS_PER_ADDRESS per source address), $RATE comments/s for $DURATION s on $LABEL"
"$TARGET_DIR/$BENCH_PROFILE/examples/subscription_bench" --url "http://127.0.0.1:$PORT" --pid "$SERVER_PID" \
  --subscribers "$SUBSCRIBERS" --rate "$RATE" --seconds "$DURATION" --sockets-per-address "$SOCKETS_PER_ADDRESS" \
  >"$WORK/report.json" || { tail -20 "$WORK/board.log" >&2; die "the load client failed"; }

mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/subscriptions-$STAMP"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
jq --arg backend "$LABEL" --arg commit "$COMMIT" --arg stamp "$STAMP" --argjson cores "$(nproc)" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg profile "$BENCH_PROFILE" \
  --argjson smoke "$([[ -n $SMOKE ]] && echo true || echo false)" \
  '{timestamp: $stamp, commit: $commit, backend: $backend, profile: $profile, smoke: $smoke, cores: $cores,
    load_average_before: $load} + .' \
  "$WORK/report.json" >"$OUT.json"
jq -r '"| \(.backend) | \(.subscribers) | \(.comments_per_second) | \(.deliveries) / \(.deliveries_expected) | \(.latency_ms.p50 * 10 | round / 10) | \(.latency_ms.p99 * 10 | round / 10) | \(.latency_ms.max * 10 | round / 10) | \(.server.memory_per_idle_connection_kib * 10 | round / 10) | \(.server.cpu_cores_while_writing * 100 | round / 100) | \(.server.rss_mib_at_end * 10 | round / 10) |"' \
  "$OUT.json" >"$WORK/row.md"
{
  echo "# board subscriptions benchmark $STAMP$([[ -n $SMOKE ]] && echo ' (smoke run: the figures mean nothing)')"
  echo
  echo "commit \`$COMMIT\` ($BENCH_PROFILE build), $(nproc) cores shared by the server, the client, MariaDB and Redis;" \
    "$DURATION s of writes; $SUBSCRIBERS sockets from $(jq .source_addresses "$OUT.json") loopback addresses."
  echo
  echo "| backend | subscribers | comments/s | deliveries | p50 ms | p99 ms | max ms | KiB per idle socket | server CPU (cores) | RSS MiB at end |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  cat "$WORK/row.md"
} >"$OUT.md"
cat "$OUT.md"
log "wrote $OUT.json and $OUT.md"

# Every comment written must reach every subscriber.
jq -e '.writes > 0 and .failed_writes == 0 and .subscriptions_lost == 0 and .deliveries == .deliveries_expected
  and .deliveries_expected == .writes * .subscribers' "$OUT.json" >/dev/null ||
  die "$(jq -r '"deliveries \(.deliveries) of \(.deliveries_expected) expected (\(.writes) comments, \(.failed_writes) failed, \(.subscribers) subscribers, \(.subscriptions_lost) subscriptions ended early)"' "$OUT.json")"
log "every event reached every subscriber"
