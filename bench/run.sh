#!/usr/bin/env bash
# Load benchmark of board on MariaDB + Redis, compared with the embedded default (SQLite + in-process cache)
# and with a bare axum + async-graphql server (examples/baseline.rs).
#
#   bash bench/run.sh
#   SMOKE=1 bash bench/run.sh   # every scenario for seconds on a small seed: checks that they all work
#
# Options (environment): DURATION (default 30s) and CONNECTIONS (default 64) per scenario; WARMUP (5s);
# THREADS (wrk threads, default 2); SQLITE_POSTS (posts seeded into the SQLite board, default 2000);
# POSTS (posts seeded into MariaDB, default 20000; POSTS=1000000 is the scale mode: 2000 users, 1 comment and
# 2 votes per post, as the scale figures in the README were measured); SEARCH_CONNECTIONS (default 16) for the
# search and author-total scenarios; LOGIN_CONNECTIONS (default 16) for the login scenario (bcrypt runs on one
# thread per core, so more connections only lengthen its queue: at 64 a busy machine's queue outgrows
# bcrypt_max_wait and logins are refused RATE_LIMITED);
# BENCH_RUST_LOG (the servers' RUST_LOG, default info: each API call writes its log line, as in production);
# MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD (127.0.0.1/3306/root, no password; the user needs every
# right on the database `board_bench`), REDIS_HOST/REDIS_PORT (127.0.0.1/6379);
# PORT_MARIADB/PORT_BASELINE/PORT_SQLITE (18090/18091/18092); KEEP_DATABASE=1 keeps `board_bench` afterwards,
# REUSE_DATABASE=1 runs on such a kept database (with at least POSTS posts) instead of seeding again;
# BENCH_PROFILE (release, or debug: the binaries `cargo build` makes, quicker to get, far from production speed);
# BENCH_BOARD (a board binary to measure instead of the one built, e.g. one built from an earlier commit);
# BCRYPT_COST (the servers' and so the seeded passwords' bcrypt cost, default 12 as in production);
# RESULTS_DIR (bench/results); SCENARIOS (the keys to run, e.g. "b f k m"; default every one; n runs (o) too);
# ROUNDS (default 1): the wrk scenarios run this many times in turns (a b k … f, then again), and the results
# add each scenario's median and the ratios the README quotes ((k)/(b), (m)/(k), (p)/(b)) round by round with
# their median: the machine's speed drifts between minutes, and a ratio of two runs a minute apart drifts less.
#
# SMOKE=1 changes the defaults to a run of about a minute that checks the scenarios, not their speed:
# DURATION=2s WARMUP=1s CONNECTIONS=8 SEARCH_CONNECTIONS=4 LOGIN_CONNECTIONS=4 POSTS=300 (20 users, 2 comments and 2 votes per
# post) SQLITE_POSTS=200 BENCH_PROFILE=debug BCRYPT_COST=4 (at 12 a debug server may complete no login in
# 2 s), results in the temporary directory instead of bench/results.
# Every run, smoke or not, fails (after writing its results) when a scenario answered an error (in its warm-up
# too), completed no request, or, for the mixed ones (d, m, p), sent no write.
#
# Needs: cargo, curl, jq, bc, a mariadb (or mysql) client, redis-cli, a MariaDB and a Redis. It builds the
# binaries and examples, installs wrk with apt if missing, seeds a fresh database `board_bench` (200 users,
# 20 000 posts, 5 comments and 5 votes per post; dropped at the end), flushes the Redis keys `bench:*`, starts
# the servers, logs in LOGIN_USERS (8) seed users, runs the scenarios (a warm-up, then DURATION each), and
# writes bench/results/<UTC timestamp>.{json,md} and bench/results/latest.md.
#
# Signed in and anonymous: (a) and (l) read the same post(id:) document, (b) and (k) the same root page, with
# viewerHasVoted on each post (false when anonymous); (k), (l) and the reads of (m) are sent as the LOGIN_USERS
# members in turn (Authorization: Bearer). (m) mixes 95 % of those page reads with 5 % votes: each member in
# turn votes for a post of that page and takes the vote back the next time (votePost, unvotePost), so every
# write changes a count and no count grows.
#
# (n)/(o), last: createComment sent one at a time (COMMENTS_PER_POST, one every 100 ms) to a post WATCHERS seeded
# members watch (n) and to one only its commenters watch (o) — curl, not wrk, so the fan-out's load is a real
# comment rate, not a flood — then the time until the notification outbox is empty.
#
# The load tool is wrk (with bench/graphql.lua), not oha, even where oha is installed: a GraphQL error is an
# HTTP 200, so the script must read every body to count errors, and reads must pick a random post id per
# request; oha can do neither. wrk runs on the same machine as the servers and takes CPU from them.
#
# Columns: cache round trips = x-cache-round-trips of one sample request (round_trip_headers is on);
# errors = transport errors + non-2xx + 200s whose body has "errors"; DB round trips per request =
# delta of board_db_round_trips_sum / delta of board_db_round_trips_count (board's /metrics) over the measured
# part; RSS = max VmRSS of the server process sampled every 0.5 s; CPU = server CPU time / wall time
# (1.0 = one core); wrk CPU and rest = CPU of wrk, and of everything else on the machine (MariaDB, Redis and
# any other process) over the measured part. A busy "rest" outside MariaDB/Redis means the numbers are
# disturbed: the script measures how busy the machine is before it starts and prints it with the results.
set -euo pipefail

SMOKE=${SMOKE:-}
if [[ -n $SMOKE && $SMOKE != 0 ]]; then
  SMOKE=1
  DURATION=${DURATION:-2s} WARMUP=${WARMUP:-1s} CONNECTIONS=${CONNECTIONS:-8} SEARCH_CONNECTIONS=${SEARCH_CONNECTIONS:-4}
  LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-4}
  POSTS=${POSTS:-300} SQLITE_POSTS=${SQLITE_POSTS:-200} BENCH_PROFILE=${BENCH_PROFILE:-debug} BCRYPT_COST=${BCRYPT_COST:-4}
  WATCHERS=${WATCHERS:-300} COMMENTS_PER_POST=${COMMENTS_PER_POST:-5}
else
  SMOKE=""
fi
DURATION=${DURATION:-30s}
SCENARIOS=${SCENARIOS:-a b k l m p c d g h i j e f n}
ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number of at least 1" >&2; exit 2; }
ROUND=1
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-5s}
THREADS=${THREADS:-2}
SQLITE_POSTS=${SQLITE_POSTS:-2000}
# The comment-on-a-watched-post scenario: its post's watchers and the comments sent to it (and to a quiet one).
WATCHERS=${WATCHERS:-10000}
COMMENTS_PER_POST=${COMMENTS_PER_POST:-50}
BENCH_PROFILE=${BENCH_PROFILE:-release}
BCRYPT_COST=${BCRYPT_COST:-12}
# The servers' RUST_LOG. The default (info) is production's: one JSON log line per API call, paid for here too.
BENCH_RUST_LOG=${BENCH_RUST_LOG:-info}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
PORT_MARIADB=${PORT_MARIADB:-18090}
PORT_BASELINE=${PORT_BASELINE:-18091}
PORT_SQLITE=${PORT_SQLITE:-18092}
DB_NAME=board_bench
CACHE_PREFIX=bench
LOGIN_USERS=8      # users logged in for the signed-in and mixed scenarios
READ_IDS=1000      # distinct posts the read scenarios pick from
POSTS=${POSTS:-20000}
SEARCH_CONNECTIONS=${SEARCH_CONNECTIONS:-16}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-16}
if ((POSTS > 20000)); then
  SEED_USERS=2000 SEED_COMMENTS=1 SEED_VOTES=2
elif [[ -n $SMOKE ]]; then
  SEED_USERS=20 SEED_COMMENTS=2 SEED_VOTES=2
else
  SEED_USERS=200 SEED_COMMENTS=5 SEED_VOTES=5
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
STARTED=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/board-bench.XXXXXX)
if [[ -n $SMOKE ]]; then
  RESULTS_DIR=${RESULTS_DIR:-$WORK/results}   # smoke figures are not results: kept out of bench/results
else
  RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
fi
LUA="$ROOT/bench/graphql.lua"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}   # where cargo puts the build
BOARD=${BENCH_BOARD:-"$TARGET_DIR/$BENCH_PROFILE/board"}
BASELINE="$TARGET_DIR/$BENCH_PROFILE/examples/baseline"
ROWS="$WORK/rows.jsonl"
: >"$ROWS"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
mysql_cmd() { MYSQL_PWD="$MYSQL_PASSWORD" "$MYSQL_CLIENT" -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" "$@"; }
redis_cmd() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }
flush_prefix() {
  redis_cmd --scan --pattern "$CACHE_PREFIX:*" | xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
}

PIDS=()
cleanup() {
  local status=$?
  set +e
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  if [[ -n "${DB_CREATED:-}" && -n "${KEEP_DATABASE:-}" ]]; then
    log "kept database $DB_NAME (KEEP_DATABASE is set)"
  elif [[ -n "${DB_CREATED:-}" ]]; then
    mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME" && log "dropped database $DB_NAME"
    flush_prefix
  fi
  rm -f "$WORK"/*.db "$WORK"/*.db-* "$WORK"/*.jwt-secret
  # One JSON line per request makes gigabytes: keep the end of each server log.
  local f
  for f in "$WORK"/board-*.log; do
    [[ -f $f ]] && tail -n 2000 "$f" >"$f.tail" && mv "$f.tail" "$f"
  done
  log "server logs (last 2000 lines) kept in $WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build ----
case $BENCH_PROFILE in
  release) CARGO_PROFILE=(--release) ;;
  debug) CARGO_PROFILE=() ;;
  *) die "BENCH_PROFILE is release or debug, not $BENCH_PROFILE" ;;
esac
log "building the $BENCH_PROFILE binaries and examples"
cargo build "${CARGO_PROFILE[@]}" --bins --examples
[[ -x "$BOARD" && -x "$BASELINE" ]] || die "missing $BOARD or $BASELINE"

# ---- 2. load tool ----
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq wrk >/dev/null
fi
WRK_VERSION=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $1, $2}')
for tool in curl jq bc redis-cli; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
[[ -n $MYSQL_CLIENT ]] || die "a mariadb or mysql client is needed"

calc() { # $1 = number of decimals, $2 = bc expression; always a valid JSON number
  LC_ALL=C printf "%.${1}f" "$(echo "scale=6; $2" | bc)"
}
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }  # ticks, all cores
CLK_TCK=$(getconf CLK_TCK)
b0=$(machine_busy)
sleep 2
IDLE_CHECK=$(calc 2 "($(machine_busy) - $b0) / $CLK_TCK / 2")
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "before start: $IDLE_CHECK cores busy (load average $LOADAVG)"
if (($(echo "$IDLE_CHECK > 0.2" | bc))); then
  log "warning: the machine is not idle; the busiest processes:"
  ps -eo pid,pcpu,comm --sort=-pcpu | head -6 >&2
fi

# ---- 3. data ----
JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
MYSQL_URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
REDIS_URL_BENCH="redis://$REDIS_HOST:$REDIS_PORT/0"
SQLITE_URL="sqlite://$WORK/board.db"

# REUSE_DATABASE=1 runs against a `board_bench` kept by an earlier run (KEEP_DATABASE=1) instead of seeding anew.
REUSED=""
if [[ -n "${REUSE_DATABASE:-}" ]] && [[ "$(mysql_cmd -N -B -e "SELECT COUNT(*) FROM $DB_NAME.post" 2>/dev/null || echo 0)" -ge "$POSTS" ]]; then
  log "reusing database $DB_NAME"
  REUSED=1
else
  log "creating database $DB_NAME"
  mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
fi
DB_CREATED=1
flush_prefix

# board with a clean environment per backend, run from $WORK (no board.toml of the checkout is read; the
# BOARD_CONFIG file does not exist, which board treats as an empty file). The limits that protect a public
# server are lifted where a scenario measures the work behind them: guesses and new posts per account, and the
# bcrypt queue and its wait (the login scenario measures bcrypt's throughput, not the refusals of a flood).
# And the connections per client address: wrk's all come from 127.0.0.1 (it cannot choose a source address),
# and with the default cap (max_connections_per_client 64, a scenario's CONNECTIONS) a scenario's connections
# were refused while the previous scenario's were still closing. The cap is raised to the server's total
# (max_connections, 1 024, or more for larger CONNECTIONS), which holds two scenarios' connections.
MOST_CONNECTIONS=$(printf '%s\n' "$CONNECTIONS" "$SEARCH_CONNECTIONS" "$LOGIN_CONNECTIONS" | sort -n | tail -1)
TOTAL_CONNECTIONS=$((2 * MOST_CONNECTIONS + 64 > 1024 ? 2 * MOST_CONNECTIONS + 64 : 1024))
COMMON_ENV=(RUST_LOG="$BENCH_RUST_LOG" BOARD_LOG_FORMAT=json BOARD_JWT_SECRET="$JWT_SECRET" BOARD_BCRYPT_COST="$BCRYPT_COST"
  BOARD_MAX_CONNECTIONS="$TOTAL_CONNECTIONS" BOARD_MAX_CONNECTIONS_PER_CLIENT="$TOTAL_CONNECTIONS"
  BOARD_LOGIN_FAILURES_PER_CLIENT=1000000 BOARD_LOGIN_FAILURES_PER_ACCOUNT=1000000 BOARD_CREATES_PER_USER=1000000 BOARD_POINTS_PER_WINDOW=1000000000 BOARD_BCRYPT_QUEUE=1000 BOARD_BCRYPT_MAX_WAIT_MS=9000 BOARD_ROUND_TRIP_HEADERS=true BOARD_CONFIG="$WORK/none.toml" PATH="$PATH")
BOARD_MARIADB=(env -i "${COMMON_ENV[@]}" DATABASE_URL="$MYSQL_URL" REDIS_URL="$REDIS_URL_BENCH"
  BOARD_CACHE_PREFIX="$CACHE_PREFIX" BOARD_BIND="127.0.0.1:$PORT_MARIADB" "$BOARD")
BOARD_SQLITE=(env -i "${COMMON_ENV[@]}" DATABASE_URL="$SQLITE_URL" BOARD_BIND="127.0.0.1:$PORT_SQLITE" "$BOARD")

if [[ -n $REUSED ]]; then
  # The seed's demo login is its first user; its password is the seed's.
  echo "demo login: $(mysql_cmd -N -B -e "SELECT name FROM $DB_NAME.user WHERE name LIKE 'seed-%-1' ORDER BY id LIMIT 1") / demo-password" \
    >"$WORK/seed-mariadb.out"
  SEED_MARIADB_S=0
else
  log "seeding MariaDB: $SEED_USERS users, $POSTS posts, $SEED_COMMENTS comments and $SEED_VOTES votes per post"
  t0=$(date +%s.%N)
  (cd "$WORK" && "${BOARD_MARIADB[@]}" seed --users "$SEED_USERS" --posts "$POSTS" --comments-per-post "$SEED_COMMENTS" --votes-per-post "$SEED_VOTES") >"$WORK/seed-mariadb.out" 2>&1 ||
    { cat "$WORK/seed-mariadb.out" >&2; die "seeding MariaDB failed"; }
  SEED_MARIADB_S=$(calc 1 "$(date +%s.%N) - $t0")
fi
cat "$WORK/seed-mariadb.out" >&2
# Table and index sizes of the seeded MariaDB, for the scale figures: exact statistics first (ANALYZE), then
# information_schema per table and the files on disk (which include the FULLTEXT index's own tables).
log "measuring table sizes"
for t in $(mysql_cmd -N -B -e "SELECT table_name FROM information_schema.TABLES WHERE table_schema = '$DB_NAME'"); do
  mysql_cmd "$DB_NAME" -N -B -e "ANALYZE TABLE \`$t\`" >/dev/null
done
mysql_cmd -N -B -e "SELECT table_name, table_rows, data_length, index_length FROM information_schema.TABLES
  WHERE table_schema = '$DB_NAME' ORDER BY data_length + index_length DESC" >"$WORK/sizes.tsv"
DATADIR=$(mysql_cmd -N -B -e 'SELECT @@datadir')
DISK_MIB=$(du -sm "$DATADIR/$DB_NAME" 2>/dev/null | cut -f1 || echo '')
FTS_MIB=$(du -cm "$DATADIR/$DB_NAME"/[Ff][Tt][Ss]_*.ibd 2>/dev/null | tail -1 | cut -f1 || echo '')
DEMO_USER=$(sed -n 's/^demo login: \([^ ]*\) \/.*/\1/p' "$WORK/seed-mariadb.out")
[[ -n "$DEMO_USER" ]] || die "the seed printed no demo login"
USER_PREFIX=${DEMO_USER%-1}   # seed-<tag>

log "seeding SQLite ($WORK/board.db): 50 users, $SQLITE_POSTS posts, 5 comments and 5 votes per post"
(cd "$WORK" && "${BOARD_SQLITE[@]}" seed --users 50 --posts "$SQLITE_POSTS" --comments-per-post 5 --votes-per-post 5) >"$WORK/seed-sqlite.out" 2>&1 ||
  { cat "$WORK/seed-sqlite.out" >&2; die "seeding SQLite failed"; }
cat "$WORK/seed-sqlite.out" >&2

b64() { printf '%s' "$1" | base64 -w0; }
# $1 = highest post id, $2 = file: READ_IDS distinct random post ids (fewer if there are fewer posts)
random_post_ids() {
  shuf -i "1-$1" -n "$READ_IDS" | while read -r n; do b64 "Post:$n"; echo; done >"$2"
}
random_post_ids "$POSTS" "$WORK/ids-mariadb.txt"
random_post_ids "$SQLITE_POSTS" "$WORK/ids-sqlite.txt"
ROOT_CATEGORY=$(b64 "Category:1")   # qna, the first seeded root
# Bodies of the scale scenarios, 5 distinct requests each (one JSON body per line).
: >"$WORK/rare.jsonl"; : >"$WORK/common.jsonl"; : >"$WORK/category-total.jsonl"; : >"$WORK/author-total.jsonl"
for k in 1 2 3 4 5; do
  n=$((POSTS - 17 * k))   # a post title "Demo post #n": the term is in one post (or a handful)
  jq -c -n --arg s "post #$n" '{operationName: "RareSearch", query: "query RareSearch($s: String!) { posts(search: $s, first: 20) { totalCount edges { node { id title } } } }", variables: {s: $s}}' >>"$WORK/rare.jsonl"
  jq -c -n --arg s "$(sed -n "${k}p" <<<$'게시판\n데모\n안녕하세요\nversion 0\n추천도')" '{operationName: "CommonSearch", query: "query CommonSearch($s: String!) { posts(search: $s, first: 20) { edges { node { id title } } } }", variables: {s: $s}}' >>"$WORK/common.jsonl"
  jq -c -n --arg c "$(b64 "Category:$(((k - 1) % 2 + 1))")" '{operationName: "CategoryTotal", query: "query CategoryTotal($c: ID!) { posts(categoryId: $c, first: 20) { totalCount edges { node { id title voteCount commentCount author { name } category { name } } } } }", variables: {c: $c}}' >>"$WORK/category-total.jsonl"
  jq -c -n --arg u "$(b64 "User:$k")" '{operationName: "AuthorTotal", query: "query AuthorTotal($u: ID!) { posts(authorId: $u, first: 20) { totalCount edges { node { id title } } } }", variables: {u: $u}}' >>"$WORK/author-total.jsonl"
done

# ---- 4. servers ----
start_server() { # $1 = name, $2 = log file, then the command; sets SERVER_PID (the server itself: exec)
  (cd "$WORK" && exec "${@:3}" >"$2" 2>&1) &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  log "started $1 (pid $SERVER_PID)"
}
wait_ready() { # $1 = url, $2 = pid, $3 = log
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { tail -20 "$3" >&2; die "the server behind $1 exited"; }
    sleep 0.2
  done
  tail -20 "$3" >&2
  die "$1 did not answer within 60 s"
}

start_server "board on MariaDB + Redis" "$WORK/board-mariadb.log" "${BOARD_MARIADB[@]}" serve
PID_MARIADB=$SERVER_PID
start_server "board on SQLite + in-process cache" "$WORK/board-sqlite.log" "${BOARD_SQLITE[@]}" serve
PID_SQLITE=$SERVER_PID
start_server "baseline" "$WORK/baseline.log" env BASELINE_BIND="127.0.0.1:$PORT_BASELINE" "$BASELINE"
PID_BASELINE=$SERVER_PID
wait_ready "http://127.0.0.1:$PORT_MARIADB/readyz" "$PID_MARIADB" "$WORK/board-mariadb.log"
wait_ready "http://127.0.0.1:$PORT_SQLITE/readyz" "$PID_SQLITE" "$WORK/board-sqlite.log"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -H 'Content-Type: application/json' -d '{"query":"{ ping }"}' \
    "http://127.0.0.1:$PORT_BASELINE/graphql" 2>/dev/null && break
  sleep 0.2
done


gql() { # $1 = port, $2 = JSON body, [$3 = token]
  local auth=()
  [[ -n "${3:-}" ]] && auth=(-H "Authorization: Bearer $3")
  curl -sS -H 'Content-Type: application/json' "${auth[@]}" -d "$2" "http://127.0.0.1:$1/graphql"
}

log "logging in $LOGIN_USERS seed users for the signed-in and mixed scenarios"
: >"$WORK/tokens.txt"
for n in $(seq 1 "$LOGIN_USERS"); do
  answer=$(gql "$PORT_MARIADB" "{\"query\":\"mutation { login(input: { login: \\\"$USER_PREFIX-$n\\\", password: \\\"demo-password\\\" }) { accessToken } }\"}")
  token=$(jq -r '.data.login.accessToken // empty' <<<"$answer")
  [[ -n "$token" ]] || die "login of $USER_PREFIX-$n failed: $answer"
  echo "$token" >>"$WORK/tokens.txt"
done
# The posts of the root page: (m) votes on them.
gql "$PORT_MARIADB" "$(jq -c -n --arg c "$ROOT_CATEGORY" '{query: "query($c: ID!) { posts(categoryId: $c, first: 20) { edges { node { id } } } }", variables: {c: $c}}')" |
  jq -r '.data.posts.edges[].node.id' >"$WORK/page-ids.txt"
[[ -s "$WORK/page-ids.txt" ]] || die "the root page listed no post"

# ---- 5. scenarios ----
metric_sum() { # $1 = metrics file, $2 = regex on the series (name and labels); sums the values
  awk -v re="$2" '$0 !~ /^#/ && $0 ~ re { s += $NF } END { printf "%.0f", s }' "$1"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_sampler() { # $1 = pid, $2 = output file: keeps the max VmRSS (kB)
  local max=0 rss
  while kill -0 "$1" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
    ((rss > max)) && max=$rss && echo "$max" >"$2"
    sleep 0.5
  done
}
wrk_run() { # $1 = duration, $2 = url, $3 = output, then BENCH_*=… (and CONNECTIONS=…) for bench/graphql.lua
  local connections=$CONNECTIONS arg
  for arg in "${@:4}"; do [[ $arg == CONNECTIONS=* ]] && connections=${arg#CONNECTIONS=}; done
  env "${@:4}" wrk -t"$THREADS" -c"$connections" -d"$1" --timeout 30s --latency -s "$LUA" "$2" >"$3" 2>&1 ||
    { cat "$3" >&2; die "wrk failed"; }
}

children_cpu() { # $1 = output of `times`: user + system seconds of the shell's waited-for children
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } print t }' "$1"
}
# One read as bench/graphql.lua sends it (the same document text), to read the x-cache-round-trips header:
# $1 = port, $2 = mode, [$3 = access token: signed in].
# shellcheck disable=SC2016 # $id, $categoryId, $login: GraphQL variables in the documents, not the shell's
sample_round_trips() {
  local operation query vars
  case $2 in
    post | mixed)
      operation=PostById
      query='query PostById($id: ID!) { post(id: $id) { title content author { name } category { name } voteCount viewerHasVoted } }'
      vars="{\"id\":\"$(head -1 "$WORK/ids-mariadb.txt")\"}"
      [[ $1 == "$PORT_SQLITE" ]] && vars="{\"id\":\"$(head -1 "$WORK/ids-sqlite.txt")\"}" ;;
    root | rootvote)
      operation=RootPage
      query='query RootPage($categoryId: ID!) { posts(categoryId: $categoryId, first: 20) { edges { node { id title voteCount viewerHasVoted commentCount author { name } category { name } } } } }'
      vars="{\"categoryId\":\"$ROOT_CATEGORY\"}" ;;
    login)
      operation=Login
      query='mutation Login($login: String!, $password: String!) { login(input: { login: $login, password: $password }) { accessToken } }'
      vars="{\"login\":\"$USER_PREFIX-3\",\"password\":\"demo-password\"}" ;;
    *) echo null; return ;;
  esac
  local body auth=()
  body=$(jq -c -n --arg o "$operation" --arg q "$query" --argjson v "$vars" '{operationName: $o, query: $q, variables: $v}')
  [[ -n "${3:-}" ]] && auth=(-H "Authorization: Bearer $3")
  # Twice, and the second one counts: the first may refill a near-cache entry that just expired.
  curl -sS -o /dev/null -H 'Content-Type: application/json' "${auth[@]}" -d "$body" "http://127.0.0.1:$1/graphql"
  curl -sS -D - -o /dev/null -H 'Content-Type: application/json' "${auth[@]}" -d "$body" "http://127.0.0.1:$1/graphql" |
    awk -F': ' 'tolower($1) == "x-cache-round-trips" { gsub("\r", "", $2); v = $2 } END { print (v == "" ? "null" : v) }'
}

# $1 = key, $2 = title, $3 = backend label, $4 = port, $5 = server pid, $6 = has board metrics (1/0),
# then VAR=value pairs for bench/graphql.lua.
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
scenario() {
  local key=$1 title=$2 backend=$3 port=$4 pid=$5 metrics=$6
  shift 6
  wanted "$key" || { log "scenario $key: not in SCENARIOS, skipped"; return 0; }
  local url="http://127.0.0.1:$port/graphql" out="$WORK/$key" connections=$CONNECTIONS arg
  for arg in "$@"; do [[ $arg == CONNECTIONS=* ]] && connections=${arg#CONNECTIONS=}; done
  log "scenario $key$( ((ROUNDS > 1)) && echo " (round $ROUND of $ROUNDS)"): $title — warm-up $WARMUP"
  wrk_run "$WARMUP" "$url" "$out.warmup.txt" "$@"
  local warm_errors
  warm_errors=$(sed -n 's/^BENCH_RESULT //p' "$out.warmup.txt" | jq '.gql_errors + .connect_errors + .read_errors + .write_errors + .status_errors + .timeouts')
  [[ -n $warm_errors ]] || { cat "$out.warmup.txt" >&2; die "no result from wrk (warm-up of $key)"; }
  ((warm_errors == 0)) || { log "  warm-up errors: $warm_errors"; grep BENCH_SAMPLE_ERROR "$out.warmup.txt" | head -2 >&2 || true; }

  local cache_trips=null mode sample_token=""
  mode=$(printf '%s\n' "$@" | sed -n 's/^BENCH_MODE=//p')
  # Reads of post, root and rootvote are signed in when the scenario has tokens (unless BENCH_READS=anonymous);
  # mixed reads are anonymous.
  if [[ $mode == post || $mode == root || $mode == rootvote ]] && ! printf '%s\n' "$@" | grep -qx 'BENCH_READS=anonymous'; then
    local tokens_file
    tokens_file=$(printf '%s\n' "$@" | sed -n 's/^BENCH_TOKENS=//p')
    [[ -n $tokens_file ]] && sample_token=$(head -1 "$tokens_file")
  fi
  if ((metrics)); then
    cache_trips=$(sample_round_trips "$port" "$mode" "$sample_token")
    curl -fsS "http://127.0.0.1:$port/metrics" >"$out.metrics-before"
  fi
  local cpu0 cpu1 t0 t1 m0 m1
  times >"$out.times0"
  m0=$(machine_busy)
  cpu0=$(cpu_ticks "$pid")
  echo 0 >"$out.rss"
  rss_sampler "$pid" "$out.rss" &
  local sampler=$!
  t0=$(date +%s.%N)
  log "  measuring $DURATION with $connections connections"
  wrk_run "$DURATION" "$url" "$out.txt" "$@"
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$pid")
  m1=$(machine_busy)
  times >"$out.times1"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  if ((metrics)); then curl -fsS "http://127.0.0.1:$port/metrics" >"$out.metrics-after"; fi

  local result
  result=$(sed -n 's/^BENCH_RESULT //p' "$out.txt")
  [[ -n "$result" ]] || { cat "$out.txt" >&2; die "no result from wrk"; }
  grep BENCH_SAMPLE_ERROR "$out.txt" | head -3 >&2 || true
  local rt_per_req=null hit_ratio=null
  if ((metrics)); then
    local s0 s1 c0 c1 h0 h1 a0 a1
    s0=$(metric_sum "$out.metrics-before" '^board_db_round_trips_sum')
    s1=$(metric_sum "$out.metrics-after" '^board_db_round_trips_sum')
    c0=$(metric_sum "$out.metrics-before" '^board_db_round_trips_count')
    c1=$(metric_sum "$out.metrics-after" '^board_db_round_trips_count')
    h0=$(metric_sum "$out.metrics-before" '^board_cache_requests_total[{].*result="hit"')
    h1=$(metric_sum "$out.metrics-after" '^board_cache_requests_total[{].*result="hit"')
    a0=$(metric_sum "$out.metrics-before" '^board_cache_requests_total')
    a1=$(metric_sum "$out.metrics-after" '^board_cache_requests_total')
    if ((c1 > c0)); then rt_per_req=$(calc 3 "($s1 - $s0) / ($c1 - $c0)"); fi
    if ((a1 > a0)); then hit_ratio=$(calc 4 "($h1 - $h0) / ($a1 - $a0)"); fi
  fi
  local rss_kb cpu_cores wrk_cores rest_cores
  rss_kb=$(cat "$out.rss")
  cpu_cores=$(calc 2 "($cpu1 - $cpu0) / $CLK_TCK / ($t1 - $t0)")
  wrk_cores=$(calc 2 "($(children_cpu "$out.times1") - $(children_cpu "$out.times0")) / ($t1 - $t0)")
  rest_cores=$(calc 2 "($m1 - $m0) / $CLK_TCK / ($t1 - $t0) - $cpu_cores - $wrk_cores")
  jq -c -n --arg key "$key" --arg title "$title" --arg backend "$backend" --argjson wrk "$result" \
    --argjson rt "$rt_per_req" --argjson hit "$hit_ratio" --argjson rss "$rss_kb" --argjson cpu "$cpu_cores" \
    --argjson ct "$cache_trips" --argjson wrkcpu "$wrk_cores" --argjson rest "$rest_cores" \
    --argjson warm "$warm_errors" --arg mode "$mode" --argjson connections "$connections" \
    --argjson round "$ROUND" \
    '{key: $key, round: $round, scenario: $title, backend: $backend, mode: $mode, connections: $connections,
      warmup_errors: $warm} + $wrk + {
       errors: ($wrk.gql_errors + $wrk.connect_errors + $wrk.read_errors + $wrk.write_errors
                + $wrk.status_errors + $wrk.timeouts),
       db_round_trips_per_request: $rt, cache_round_trips_sample: $ct, cache_hit_ratio: $hit,
       max_rss_mib: (($rss / 1024 * 10 | round) / 10), server_cpu_cores: $cpu, wrk_cpu_cores: $wrkcpu,
       rest_cpu_cores: ([$rest, 0] | max)}' >>"$ROWS"
  tail -1 "$ROWS" | jq -r '"  \(.rps) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, errors \(.errors), DB round trips/req \(.db_round_trips_per_request), RSS \(.max_rss_mib) MiB, CPU server \(.server_cpu_cores) wrk \(.wrk_cpu_cores) rest \(.rest_cpu_cores)"' >&2
}

MARIADB="MariaDB + Redis"
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  scenario a "PostById (warm, $READ_IDS random posts)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=post BENCH_IDS="$WORK/ids-mariadb.txt"
  scenario b "RootPage (posts of qna, first 20)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=root BENCH_CATEGORY="$ROOT_CATEGORY"
  scenario k "RootPage signed in ($LOGIN_USERS members in turn)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=root BENCH_CATEGORY="$ROOT_CATEGORY" BENCH_TOKENS="$WORK/tokens.txt"
  scenario l "PostById signed in (warm, $READ_IDS random posts, $LOGIN_USERS members in turn)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=post BENCH_IDS="$WORK/ids-mariadb.txt" BENCH_TOKENS="$WORK/tokens.txt"
  scenario m "95 % RootPage signed in / 5 % votePost+unvotePost" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=rootvote BENCH_CATEGORY="$ROOT_CATEGORY" BENCH_TOKENS="$WORK/tokens.txt" \
    BENCH_VOTE_IDS="$WORK/page-ids.txt" BENCH_WRITE_PCT=5
  scenario p "95 % RootPage anonymous / 5 % votePost+unvotePost ($LOGIN_USERS members)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=rootvote BENCH_CATEGORY="$ROOT_CATEGORY" BENCH_TOKENS="$WORK/tokens.txt" BENCH_READS=anonymous \
    BENCH_VOTE_IDS="$WORK/page-ids.txt" BENCH_WRITE_PCT=5
  scenario c "Login (bcrypt cost $BCRYPT_COST)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=login BENCH_LOGIN="$USER_PREFIX-2" CONNECTIONS="$LOGIN_CONNECTIONS"
  scenario d "90 % PostById / 10 % createComment+votePost" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=mixed BENCH_IDS="$WORK/ids-mariadb.txt" BENCH_TOKENS="$WORK/tokens.txt" BENCH_WRITE_PCT=10
  scenario g "rare-term search with totalCount (5 terms)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=bodies BENCH_BODIES="$WORK/rare.jsonl" CONNECTIONS="$SEARCH_CONNECTIONS"
  scenario h "common-term search (5 terms)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=bodies BENCH_BODIES="$WORK/common.jsonl" CONNECTIONS="$SEARCH_CONNECTIONS"
  scenario i "category page with totalCount (2 roots)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=bodies BENCH_BODIES="$WORK/category-total.jsonl"
  scenario j "author page with totalCount (5 authors)" "$MARIADB" "$PORT_MARIADB" "$PID_MARIADB" 1 \
    BENCH_MODE=bodies BENCH_BODIES="$WORK/author-total.jsonl" CONNECTIONS="$SEARCH_CONNECTIONS"
  scenario e "PostById (warm, $READ_IDS random posts of $SQLITE_POSTS)" "SQLite + in-process cache" "$PORT_SQLITE" "$PID_SQLITE" 1 \
    BENCH_MODE=post BENCH_IDS="$WORK/ids-sqlite.txt"
  scenario f "{ ping } baseline (axum + async-graphql)" "in memory" "$PORT_BASELINE" "$PID_BASELINE" 0 \
    BENCH_MODE=ping
done

# ---- 5b. a comment on a watched post ----
# createComment's latency on a post that WATCHERS members watch against one only its commenters watch, each
# comment sent alone (COMMENTS_PER_POST of them, one every 100 ms, the LOGIN_USERS members in turn): the
# fan-out runs after the comment answered, so the latency must not grow with the watchers. Then how long the
# outbox takes to drain and how many notifications a second the fan-out writes. Last, so its backlog cannot
# disturb the wrk scenarios.
NOTIFIED=0 FANOUT_S=0 DRAIN_S=0 FANOUT_MEAN_MS=0
: >"$WORK/watched.jsonl"
if wanted n; then
log "comment on a watched post: $WATCHERS watchers"
(cd "$WORK" && "${BOARD_MARIADB[@]}" seed --users "$WATCHERS" --posts 0) >"$WORK/seed-watchers.out" 2>&1 ||
  { cat "$WORK/seed-watchers.out" >&2; die "seeding the watchers failed"; }
new_post() { # $1 = title; answers the id
  gql "$PORT_MARIADB" "$(jq -c -n --arg c "$ROOT_CATEGORY" --arg t "$1" '{query: "mutation($c: ID!, $t: String!) { createPost(input: { categoryId: $c, title: $t, content: \"watch me\" }) { post { id } } }", variables: {c: $c, t: $t}}')" \
    "$(head -1 "$WORK/tokens.txt")" | jq -r '.data.createPost.post.id // empty'
}
WATCHED_POST=$(new_post "watched by $WATCHERS")
QUIET_POST=$(new_post "watched by its commenters")
[[ -n $WATCHED_POST && -n $QUIET_POST ]] || die "could not create the posts to comment on"
WATCHED_ROW=$(base64 -d <<<"$WATCHED_POST" | cut -d: -f2)
mysql_cmd "$DB_NAME" -e "INSERT IGNORE INTO watch_post (user_id, post_id, watching, created_datetime)
  SELECT id, $WATCHED_ROW, TRUE, NOW(6) FROM \`user\`"
outbox_len() { mysql_cmd -N -B "$DB_NAME" -e "SELECT COUNT(*) FROM notification_outbox"; }
wait_outbox() { # waits until the fan-out drained the outbox (at most 600 s); answers the seconds waited
  local t0 n
  t0=$(date +%s.%N)
  for _ in $(seq 1 6000); do
    n=$(outbox_len)
    ((n == 0)) && { calc 2 "$(date +%s.%N) - $t0"; return; }
    sleep 0.1
  done
  die "the notification outbox did not drain in 600 s ($n entries left)"
}
mapfile -t COMMENT_TOKENS <"$WORK/tokens.txt"
comment_run() { # $1 = key, $2 = post id; one latency (ms) per line in $WORK/$1.latencies, errors in $WORK/$1.errors
  local body i token answer
  : >"$WORK/$1.latencies"; echo 0 >"$WORK/$1.errors"
  body=$(jq -c -n --arg p "$2" '{operationName: "CommentOnPost", query: "mutation CommentOnPost($p: ID!) { createComment(input: { postId: $p, content: \"a comment\" }) { comment { id } } }", variables: {p: $p}}')
  for i in $(seq 1 "$COMMENTS_PER_POST"); do
    token=${COMMENT_TOKENS[$(((i - 1) % ${#COMMENT_TOKENS[@]}))]}
    answer=$(curl -sS -w '\n%{time_total}' -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
      -d "$body" "http://127.0.0.1:$PORT_MARIADB/graphql")
    if ! jq -e '.data.createComment.comment.id' <<<"$(head -1 <<<"$answer")" >/dev/null 2>&1; then
      echo $(($(cat "$WORK/$1.errors") + 1)) >"$WORK/$1.errors"
      log "  $1: $(head -c 300 <<<"$answer")"
    fi
    printf '%s\n' "$(calc 2 "$(tail -1 <<<"$answer") * 1000")" >>"$WORK/$1.latencies"
    sleep 0.1
  done
}
percentile() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'; }
metric_value() { # $1 = metrics file, $2 = regex; sums the values with their decimals
  awk -v re="$2" '$0 !~ /^#/ && $0 ~ re { s += $NF } END { printf "%.6f", s }' "$1"
}
wait_outbox >/dev/null
comment_run o "$QUIET_POST"
wait_outbox >/dev/null
curl -fsS "http://127.0.0.1:$PORT_MARIADB/metrics" >"$WORK/n.metrics-before"
FANOUT_T0=$(date +%s.%N)
comment_run n "$WATCHED_POST"
DRAIN_S=$(wait_outbox)
FANOUT_S=$(calc 2 "$(date +%s.%N) - $FANOUT_T0")
curl -fsS "http://127.0.0.1:$PORT_MARIADB/metrics" >"$WORK/n.metrics-after"
NOTIFIED=$(calc 0 "$(metric_value "$WORK/n.metrics-after" '^board_notifications_created_total') - $(metric_value "$WORK/n.metrics-before" '^board_notifications_created_total')")
FANOUTS=$(calc 0 "$(metric_value "$WORK/n.metrics-after" '^board_notifications_fanout_duration_seconds_count') - $(metric_value "$WORK/n.metrics-before" '^board_notifications_fanout_duration_seconds_count')")
FANOUT_SUM=$(calc 6 "$(metric_value "$WORK/n.metrics-after" '^board_notifications_fanout_duration_seconds_sum') - $(metric_value "$WORK/n.metrics-before" '^board_notifications_fanout_duration_seconds_sum')")
FANOUT_MEAN_MS=0
((FANOUTS > 0)) && FANOUT_MEAN_MS=$(calc 1 "1000 * $FANOUT_SUM / $FANOUTS")
for key in o n; do
  jq -c -n --arg key "$key" --argjson p50 "$(percentile "$WORK/$key.latencies" 50)" \
    --argjson p99 "$(percentile "$WORK/$key.latencies" 99)" --argjson errors "$(cat "$WORK/$key.errors")" \
    --argjson n "$COMMENTS_PER_POST" --argjson watchers "$([[ $key == n ]] && echo "$WATCHERS" || echo 0)" \
    '{key: $key, comments: $n, watchers: $watchers, p50_ms: $p50, p99_ms: $p99, errors: $errors}' >>"$WORK/watched.jsonl"
done
log "  comment latency p50/p99: quiet $(percentile "$WORK/o.latencies" 50)/$(percentile "$WORK/o.latencies" 99) ms, watched $(percentile "$WORK/n.latencies" 50)/$(percentile "$WORK/n.latencies" 99) ms; $NOTIFIED notifications in $FANOUT_S s (outbox drained $DRAIN_S s after the last comment)"
fi

# ---- 6. results ----
# Each wrk scenario's median over the rounds (in the order they ran) and every round's figure.
MEDIANS='([.[] | select(.round == 1) | .key]) as $order | group_by(.key)
  | map({key: .[0].key, scenario: .[0].scenario, each: map(.rps),
         median: (map(.rps) | sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end)})
  | sort_by(.key as $k | $order | index($k))'
mkdir -p "$RESULTS_DIR"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([[ -n "$(git status --porcelain -- src Cargo.toml Cargo.lock migrations 2>/dev/null)" ]] && echo true || echo false)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ELAPSED=$(($(date +%s) - STARTED))
jq -n --slurpfile rows "$ROWS" --arg stamp "$STAMP" --arg commit "$COMMIT" --argjson dirty "$DIRTY" \
  --arg duration "$DURATION" --arg warmup "$WARMUP" --argjson connections "$CONNECTIONS" \
  --argjson threads "$THREADS" --arg tool "$WRK_VERSION" --arg cpu "$CPU_MODEL" --argjson cores "$(nproc)" \
  --argjson idle "$IDLE_CHECK" --arg loadavg "$LOADAVG" \
  --argjson sqlite_posts "$SQLITE_POSTS" --argjson seed_s "$SEED_MARIADB_S" --argjson elapsed "$ELAPSED" \
  --argjson posts "$POSTS" --argjson seed_users "$SEED_USERS" --argjson seed_comments "$SEED_COMMENTS" --argjson seed_votes "$SEED_VOTES" \
  --argjson smoke "$([[ -n $SMOKE ]] && echo true || echo false)" --arg profile "$BENCH_PROFILE" \
  --slurpfile watched "$WORK/watched.jsonl" --argjson notified "$NOTIFIED" --argjson fanout_s "$FANOUT_S" \
  --argjson drain_s "$DRAIN_S" --argjson fanout_ms "$FANOUT_MEAN_MS" \
  '{timestamp: $stamp, commit: $commit, source_dirty: $dirty, smoke: $smoke, profile: $profile, tool: $tool,
    duration: $duration, warmup: $warmup,
    connections: $connections, wrk_threads: $threads,
    machine: {cpu: $cpu, cores: $cores, busy_cores_before_start: $idle, load_average_before_start: $loadavg},
    data: {mariadb: {users: $seed_users, posts: $posts, comments_per_post: $seed_comments, votes_per_post: $seed_votes, seed_seconds: $seed_s},
           sqlite: {users: 50, posts: $sqlite_posts, comments_per_post: 5, votes_per_post: 5}},
    script_seconds: $elapsed, rounds: ($rows | map(.round) | max // 1),
    medians: ($rows | '"$MEDIANS"'), scenarios: $rows, watched_post: {comments: $watched,
      notifications: $notified, fanout_seconds: $fanout_s, drain_seconds_after_last: $drain_s,
      mean_fanout_ms: $fanout_ms}}' >"$RESULTS_DIR/$STAMP.json"

{
  echo "# board benchmark $STAMP$([[ -n $SMOKE ]] && echo ' (smoke run: the figures mean nothing)')"
  echo
  echo "commit \`$COMMIT\`$([[ $DIRTY == true ]] && echo ' (with uncommitted changes to src/)') ($BENCH_PROFILE build), $WRK_VERSION, $CONNECTIONS connections" \
    "($LOGIN_CONNECTIONS for c, $SEARCH_CONNECTIONS for g, h and j)," \
    "$THREADS wrk threads, $WARMUP warm-up then $DURATION per scenario; $(nproc) cores ($CPU_MODEL)," \
    "shared by wrk, the servers, MariaDB and Redis ($IDLE_CHECK cores busy just before the start, load average" \
    "$LOADAVG). MariaDB: $SEED_USERS users, $POSTS posts, $SEED_COMMENTS comments and $SEED_VOTES votes per post (seeded in $SEED_MARIADB_S s);" \
    "SQLite: 50 users, $SQLITE_POSTS posts, same per post."
  echo
  echo "| | scenario | backend | req/s | p50 ms | p99 ms | errors | DB round trips / req | cache round trips (1 req) | cache hit | max RSS MiB | CPU: server / wrk / rest (cores) |"
  echo "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  jq -r --argjson rounds "$ROUNDS" '"| \(.key)\(if $rounds > 1 then " ·\(.round)" else "" end) | \(.scenario) | \(.backend) | \(.rps | round) | \(.p50_ms * 100 | round / 100) | \(.p99_ms * 100 | round / 100) | \(.errors) | \(.db_round_trips_per_request // "–") | \(.cache_round_trips_sample // "–") | \(if .cache_hit_ratio then (.cache_hit_ratio * 1000 | round / 10 | tostring) + " %" else "–" end) | \(.max_rss_mib) | \(.server_cpu_cores) / \(.wrk_cpu_cores) / \(.rest_cpu_cores) |"' "$ROWS"
  echo
  echo "errors = socket errors + non-2xx + HTTP 200 with \`\"errors\"\` in the body. DB round trips / req and cache hit"
  echo "come from board's \`/metrics\` over the measured part; cache round trips is the \`x-cache-round-trips\` header"
  echo "of one sample request (for (d), (m) and (p): a read); RSS is the max VmRSS sampled every 0.5 s; CPU is CPU time"
  echo "/ wall time of the server, of wrk, and of the rest of the machine (MariaDB, Redis, anything else). (a)/(l)"
  echo "and (b)/(k) send the same documents (with \`viewerHasVoted\`), anonymously and as $LOGIN_USERS logged-in seed"
  echo "users in turn. (d) sends reads anonymously and writes (alternating createComment and votePost on the same"
  echo "$READ_IDS posts) as those users. (m) sends the signed-in page reads and, for 5 %, each user's votePost and"
  echo "unvotePost in turn on a post of that page; (p) sends the same votes with the page reads anonymous."
  echo "Whole run: ${ELAPSED} s."
  if ((ROUNDS > 1)); then
    echo
    echo "Medians of $ROUNDS rounds in turns (a row's ·N above is its round):"
    echo
    echo "| | scenario | median req/s | each round |"
    echo "|---|---|--:|---|"
    jq -s -r "$MEDIANS"' | .[] | "| \(.key) | \(.scenario) | \(.median | round) | \(.each | map(round | tostring) | join(" · ")) |"' "$ROWS"
    echo
    # Each round's ratio (its scenarios ran a minute apart), then their median.
    jq -s -r 'def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      (group_by(.round) | map(map({key: .key, value: .rps}) | from_entries)) as $rounds
      | [["k", "b"], ["m", "k"], ["p", "b"]]
      | map(. as [$a, $b] | [$rounds[] | select(.[$a] and .[$b]) | 100 * .[$a] / .[$b]] | select(length > 0)
        | "(\($a)) / (\($b)): median \(median | round) % (rounds: \(map(round | tostring) | join(" · ")) %)")
      | if length > 0 then "Ratios, round by round: " + join("; ") + "." else empty end' "$ROWS"
  fi
  echo
  echo "A comment on a watched post (MariaDB + Redis): $COMMENTS_PER_POST createComment requests per post, one at a time"
  echo "every 100 ms, the $LOGIN_USERS members in turn; the watched post's $WATCHERS watchers are notified after each comment answered."
  echo
  echo "| | post | watchers | createComment p50 ms | p99 ms | errors |"
  echo "|---|---|--:|--:|--:|--:|"
  jq -r '"| \(.key) | \(if .watchers > 0 then "watched" else "watched by its commenters only" end) | \(.watchers) | \(.p50_ms) | \(.p99_ms) | \(.errors) |"' "$WORK/watched.jsonl"
  echo
  echo "Fan-out of (n): $NOTIFIED notifications written in $FANOUT_S s from the first comment (the outbox drained $DRAIN_S s"
  echo "after the last comment answered); one comment's fan-out took $FANOUT_MEAN_MS ms on average."
  echo
  echo "MariaDB sizes after seeding (InnoDB statistics after ANALYZE TABLE; the database's files on disk:" \
    "${DISK_MIB:-?} MiB, of which the FULLTEXT index's own tables ${FTS_MIB:-?} MiB):"
  echo
  echo "| table | rows (estimate) | data MiB | indexes MiB |"
  echo "|---|--:|--:|--:|"
  awk -F'\t' '{ printf "| %s | %s | %.1f | %.1f |\n", $1, $2, $3 / 1048576, $4 / 1048576 }' "$WORK/sizes.tsv"
} >"$RESULTS_DIR/$STAMP.md"
cp "$RESULTS_DIR/$STAMP.md" "$RESULTS_DIR/latest.md"
echo
cat "$RESULTS_DIR/$STAMP.md"
echo
log "wrote $RESULTS_DIR/$STAMP.json, $RESULTS_DIR/$STAMP.md and $RESULTS_DIR/latest.md"

# ---- 7. verdict ----
# A scenario that answered an error, completed nothing, or (mixed ones) wrote nothing measured something else.
FAILED=$(jq -r 'select(.errors > 0 or .warmup_errors > 0 or .requests == 0
    or ((.mode == "mixed" or .mode == "rootvote") and .writes_sent == 0))
  | "  \(.key) (\(.scenario)): \(.requests) requests, \(.errors) errors, \(.warmup_errors) in the warm-up, \(.writes_sent) writes"' "$ROWS")
FAILED+=$(jq -r 'select(.errors > 0) | "  \(.key) (comment on a post with \(.watchers) watchers): \(.errors) errors"' "$WORK/watched.jsonl")
if [[ -n $FAILED ]]; then
  log "failed scenarios:"
  printf '%s\n' "$FAILED" >&2
  exit 1
fi
log "every scenario answered without errors"
