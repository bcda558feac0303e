#!/usr/bin/env bash
# What tracing costs: the warm post(id) read of bench/run.sh's scenario (a) (anonymous `PostById` on random
# posts, wrk + bench/graphql.lua), served by the same binary and database with tracing off (no
# otlp_endpoint: spans get ids for the log lines, nothing is built or sent beyond that) and on (otlp_endpoint
# set, every request sampled, every span exported over OTLP/HTTP to bench/otlp_sink.py, a local collector
# that answers 200 and decodes nothing). The two modes alternate ROUNDS times on one server each, and each
# figure is the median of its rounds.
#
#   bash bench/traces.sh                 # board on MariaDB + Redis (round trips to Redis are spans too)
#   BACKEND=sqlite bash bench/traces.sh  # the embedded default
#   SMOKE=1 bash bench/traces.sh         # one round of 2 s per mode: checks that both modes serve and export
#
# Options (environment): DURATION (default 20s) and WARMUP (5s) per round, ROUNDS (3), CONNECTIONS (32),
# THREADS (2), POSTS (posts written before measuring, 200); BENCH_PROFILE (release, or debug);
# MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD (127.0.0.1/3306/root, no password; every right on the
# database `board_tracebench`, dropped at the end), REDIS_HOST/REDIS_PORT (127.0.0.1/6379; keys
# `tracebench:*`, deleted at the end); PORT (18094), SINK_PORT (18095); RESULTS_DIR (bench/results).
#
# Columns: requests/s and latency from wrk; server CPU = CPU time of the server / requests served (µs per
# request, the cost itself, less disturbed by the load tool sharing the cores than the throughput); spans
# exported = OTLP posts and bytes the sink received. Every run fails when a request answered an error, when
# tracing on exported nothing, or when tracing off exported anything.
#
# Needs cargo, curl, jq, bc, python3, wrk (installed with apt if missing), and for the default backend a
# MariaDB and a Redis.
set -euo pipefail

SMOKE=${SMOKE:-}
if [[ -n $SMOKE && $SMOKE != 0 ]]; then
  SMOKE=1
  DURATION=${DURATION:-2s} WARMUP=${WARMUP:-1s} ROUNDS=${ROUNDS:-1} CONNECTIONS=${CONNECTIONS:-8}
  POSTS=${POSTS:-20} BENCH_PROFILE=${BENCH_PROFILE:-debug}
else
  SMOKE=""
fi
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
POSTS=${POSTS:-200}
BENCH_PROFILE=${BENCH_PROFILE:-release}
BACKEND=${BACKEND:-mariadb}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
PORT=${PORT:-18094}
SINK_PORT=${SINK_PORT:-18095}
DB_NAME=board_tracebench
CACHE_PREFIX=tracebench

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/board-tracebench.XXXXXX)
if [[ -n $SMOKE ]]; then
  RESULTS_DIR=${RESULTS_DIR:-$WORK/results}   # smoke figures are not results: kept out of bench/results
else
  RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
calc() { echo "scale=$1; $2" | bc -l; }
SERVER_PID=""
SINK_PID=""
DB_CREATED=""
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
mysql_cmd() { MYSQL_PWD="$MYSQL_PASSWORD" "$MYSQL_CLIENT" -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" "$@"; }
case $BENCH_PROFILE in
  release) CARGO_PROFILE=(--release) ;;
  debug) CARGO_PROFILE=() ;;
  *) die "BENCH_PROFILE is release or debug, not $BENCH_PROFILE" ;;
esac
for tool in curl jq bc python3; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [[ $BACKEND == mariadb ]]; then
  [[ -n $MYSQL_CLIENT ]] || die "a mariadb or mysql client is needed"
  command -v redis-cli >/dev/null || die "redis-cli is needed"
elif [[ $BACKEND != sqlite ]]; then
  die "BACKEND is mariadb or sqlite, not $BACKEND"
fi
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq wrk >/dev/null
fi

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
  return 0
}
cleanup() {
  local status=$?
  set +e
  stop_server
  [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
  rm -f "$WORK"/*.db "$WORK"/*.db-*
  if [[ -n $DB_CREATED ]]; then
    mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME"
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$CACHE_PREFIX:*" |
      xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
  fi
  log "server logs kept in $WORK"
  exit "$status"
}
trap cleanup EXIT

log "building the $BENCH_PROFILE binary"
(cd "$ROOT" && cargo build "${CARGO_PROFILE[@]}" --bin board)
BOARD="$TARGET_DIR/$BENCH_PROFILE/board"

# The server's configuration but for the trace endpoint: production limits, except the writer's posts per
# account (the seeding writes POSTS) and the per-client request budget (wrk's connections all come from one
# address).
ENV=(RUST_LOG=info BOARD_LOG_FORMAT=json BOARD_CONFIG="$WORK/none.toml" BOARD_BIND="127.0.0.1:$PORT"
  BOARD_JWT_SECRET="trace-bench-secret-0123456789abcdef0123" BOARD_BCRYPT_COST=4
  BOARD_CREATES_PER_USER=1000000 BOARD_MAX_CONNECTIONS_PER_CLIENT=1024 BOARD_POINTS_PER_WINDOW=1000000000
  PATH="$PATH")
if [[ $BACKEND == mariadb ]]; then
  DB_CREATED=1
  mysql_cmd -e \
    "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$CACHE_PREFIX:*" |
    xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
  ENV+=(DATABASE_URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
    REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0" BOARD_CACHE_PREFIX="$CACHE_PREFIX")
  LABEL="MariaDB + Redis"
else
  ENV+=(DATABASE_URL="sqlite://$WORK/board.db")
  LABEL="SQLite + in-process cache"
fi

start_server() { # $1 = mode (off | on)
  local extra=()
  [[ $1 == on ]] && extra=(BOARD_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT")
  (cd "$WORK" && exec env -i "${ENV[@]}" "${extra[@]}" "$BOARD" serve >>"$WORK/board-$1.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/board-$1.log" >&2; die "the server exited"; }
    sleep 0.2
  done
  die "the server is not ready after 60 s"
}

gql() { # $1 = JSON body, $2 = token (optional)
  local auth=()
  [[ -n ${2:-} ]] && auth=(-H "authorization: Bearer $2")
  curl -sf "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' "${auth[@]}" -d "$1"
}

python3 "$ROOT/bench/otlp_sink.py" "$SINK_PORT" "$WORK/sink.txt" &
SINK_PID=$!

log "writing $POSTS posts ($LABEL)"
start_server off
SIGNED=$(gql '{"query":"mutation { signUp(input: { name: \"trace벤치\", email: \"trace@example.com\", password: \"correct horse\" }) { accessToken } }"}')
TOKEN=$(jq -er '.data.signUp.accessToken' <<<"$SIGNED") || die "sign-up failed: $SIGNED"
CATEGORY=$(gql '{"query":"{ categories { id } }"}' | jq -er '.data.categories[0].id')
: >"$WORK/ids.txt"
for n in $(seq "$POSTS"); do
  body=$(jq -cn --arg c "$CATEGORY" --arg t "글 $n" \
    '{query: "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
      variables: {i: {categoryId: $c, title: $t, content: "본문 body"}}}')
  gql "$body" "$TOKEN" | jq -er '.data.createPost.post.id' >>"$WORK/ids.txt" || die "createPost failed"
done
stop_server

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
LUA="$ROOT/bench/graphql.lua"
sink_posts() { [[ -f $WORK/sink.txt ]] && cut -d' ' -f1 "$WORK/sink.txt" || echo 0; }
sink_bytes() { [[ -f $WORK/sink.txt ]] && cut -d' ' -f2 "$WORK/sink.txt" || echo 0; }

measure() { # $1 = mode, $2 = round: one server, a warm-up, then DURATION measured; appends a JSON line
  local mode=$1 round=$2 out="$WORK/$1-$2" cpu0 cpu1 posts0 bytes0 result
  start_server "$mode"
  BENCH_MODE=post BENCH_IDS="$WORK/ids.txt" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout 30s \
    -s "$LUA" "http://127.0.0.1:$PORT/graphql" >"$out.warmup.txt" 2>&1 || { cat "$out.warmup.txt" >&2; die "wrk failed"; }
  sleep 1 # the warm-up's last spans leave
  posts0=$(sink_posts) bytes0=$(sink_bytes) cpu0=$(cpu_ticks "$SERVER_PID")
  BENCH_MODE=post BENCH_IDS="$WORK/ids.txt" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 30s \
    --latency -s "$LUA" "http://127.0.0.1:$PORT/graphql" >"$out.txt" 2>&1 || { cat "$out.txt" >&2; die "wrk failed"; }
  cpu1=$(cpu_ticks "$SERVER_PID")
  sleep 6 # the batch exporter sends every 5 s: the measured spans reach the sink
  result=$(sed -n 's/^BENCH_RESULT //p' "$out.txt")
  [[ -n $result ]] || { cat "$out.txt" >&2; die "no result from wrk"; }
  stop_server
  jq -c --arg mode "$mode" --argjson round "$round" --argjson cpu "$(calc 6 "($cpu1 - $cpu0) / $CLK_TCK")" \
    --argjson posts "$(($(sink_posts) - posts0))" --argjson bytes "$(($(sink_bytes) - bytes0))" \
    '{mode: $mode, round: $round, requests, rps, p50_ms, p99_ms,
      errors: (.gql_errors + .connect_errors + .read_errors + .write_errors + .status_errors + .timeouts),
      cpu_us_per_request: (if .requests > 0 then $cpu * 1e6 / .requests else 0 end),
      otlp_posts: $posts, otlp_bytes: $bytes}' <<<"$result" >>"$WORK/rounds.jsonl"
  log "$(tail -1 "$WORK/rounds.jsonl")"
}

: >"$WORK/rounds.jsonl"
for round in $(seq "$ROUNDS"); do
  measure off "$round"
  measure on "$round"
done

mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/traces-$STAMP"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
jq -s --arg backend "$LABEL" --arg commit "$COMMIT" --arg stamp "$STAMP" --arg profile "$BENCH_PROFILE" \
  --argjson smoke "$([[ -n $SMOKE ]] && echo true || echo false)" --arg duration "$DURATION" \
  --argjson connections "$CONNECTIONS" --argjson cores "$(nproc)" '
  def median: sort | if length == 0 then 0 elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def summary($m): [.[] | select(.mode == $m)] | {
    rps: (map(.rps) | median), p50_ms: (map(.p50_ms) | median), p99_ms: (map(.p99_ms) | median),
    cpu_us_per_request: (map(.cpu_us_per_request) | median), errors: (map(.errors) | add),
    requests: (map(.requests) | add), otlp_posts: (map(.otlp_posts) | add),
    otlp_bytes_per_request: ((map(.otlp_bytes) | add) / ([(map(.requests) | add), 1] | max))};
  {timestamp: $stamp, commit: $commit, backend: $backend, profile: $profile, smoke: $smoke, cores: $cores,
   duration: $duration, connections: $connections, rounds: ., off: summary("off"), on: summary("on")}' \
  "$WORK/rounds.jsonl" >"$OUT.json"
{
  echo "# board trace overhead $STAMP$([[ -n $SMOKE ]] && echo ' (smoke run: the figures mean nothing)')"
  echo
  echo "commit \`$COMMIT\` ($BENCH_PROFILE build), $LABEL, $(nproc) cores shared by the server, wrk and the"
  echo "stores; warm anonymous PostById on $POSTS posts, $CONNECTIONS connections, $DURATION per round, median of $ROUNDS rounds."
  echo
  echo "| tracing | requests/s | p50 ms | p99 ms | server CPU µs/request | exported bytes/request |"
  echo "|---|--:|--:|--:|--:|--:|"
  jq -r '["off", "on"][] as $m | .[$m] as $s |
    "| \(if $m == "off" then "off" else "on, 100 % sampled, OTLP to a local sink" end) | \($s.rps | round) | \($s.p50_ms * 100 | round / 100) | \($s.p99_ms * 100 | round / 100) | \($s.cpu_us_per_request | round) | \($s.otlp_bytes_per_request | round) |"' "$OUT.json"
  jq -r '"\nOn against off: \(((.on.rps / .off.rps - 1) * 1000 | round) / 10) % requests/s, \(((.on.cpu_us_per_request / .off.cpu_us_per_request - 1) * 1000 | round) / 10) % server CPU per request, p50 \(((.on.p50_ms / .off.p50_ms - 1) * 1000 | round) / 10) %."' "$OUT.json"
} >"$OUT.md"
cat "$OUT.md"
log "wrote $OUT.json and $OUT.md"

jq -e '.off.errors == 0 and .on.errors == 0' "$OUT.json" >/dev/null || die "requests answered errors"
jq -e '.off.requests > 0 and .on.requests > 0' "$OUT.json" >/dev/null || die "a mode served no request"
jq -e '.on.otlp_posts > 0' "$OUT.json" >/dev/null || die "tracing on exported nothing"
jq -e '.off.otlp_posts == 0' "$OUT.json" >/dev/null || die "tracing off exported spans"
log "both modes served without errors; only tracing on exported"
