#!/usr/bin/env bash
# Redis Cluster: two `board serve` processes share the guess limit and read the cache without staleness.
#
#   bash deploy/scale/cluster.sh
#
# On 127.0.0.1: a Redis Cluster of 3 primaries and 3 replicas (ports 7001-7006), MariaDB (database
# `board_cluster`, dropped at the end) and two board processes A and B on `redis-cluster://`. It signs an
# account up, then sends wrong passwords for it alternately through A and B: with the limit of 5 guesses
# per account shared, exactly 5 are checked and the rest answer RATE_LIMITED (counted in each process
# instead, 10 would be checked). Also reports how many attempts each process counted locally
# (`board_limiter_fallbacks_total`). Then the read cache: a post read twice through B must be warm (0
# database round trips, `round_trip_headers`), and after each of 5 edits through A, reads through B and A
# must show the new title. Prints a summary; exits non-zero when the limit is not shared, a read is stale,
# or warm reads still go to the database. Then a benchmark, printed and never judged: warm post(id:) and
# root-page reads under wrk through A against a process D on one Redis of its own (same MariaDB, same
# posts). Then the feed's shard lost: the primary of the hash slot that carries the cache's announcements
# and sync marks (shard channels, SSUBSCRIBE) is SIGKILLed and an edit made through A while its replica is
# promoted; reads through A and B during and after it must show the new title, and B's warm reads must use
# its near cache again afterwards. Last, a shard's primary lost with an invalidation in flight: the
# primary holding the post's cache entry has its replica cut off (SIGSTOP, then the primary drops the link),
# the post is edited through A, the primary is SIGKILLed and the cluster promotes the replica, which still
# holds the old entry (checked: otherwise the run proves nothing). Reads through A, B, a process C
# started afterwards and a process E started while the shard had no primary must all show the new title (each process meets new primaries and starts a new cache
# namespace, docs/read-cache.md#failover). Then a graceful `CLUSTER FAILOVER` of another shard with reads
# through A and B all along: no stale read, and no process starts its cache afresh more than once.
#
# Needs redis-server 7, redis-cli, a MariaDB client, curl, jq, wrk and cargo. Environment as in sentinel.sh:
# MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD, PROFILE=debug|release, SKIP_BUILD=1, GUESSES (12),
# BENCH_SECS (2; 0 skips the throughput comparison: `PROFILE=release BENCH_SECS=10` for figures).
set -euo pipefail

GUESSES=${GUESSES:-12}
REDIS_PORTS=(7001 7002 7003 7004 7005 7006)
BOARD_PORTS=(18211 18212 18213 18214 18215)
SINGLE_REDIS_PORT=7010
BENCH_SECS=${BENCH_SECS:-2}
DB_NAME=board_cluster
CACHE_PREFIX=cluster
NAME=cluster
PORTS=("${REDIS_PORTS[@]}" "$SINGLE_REDIS_PORT" "${BOARD_PORTS[@]}")
# shellcheck source=deploy/scale/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for port in "${REDIS_PORTS[@]}"; do
  mkdir -p "$WORK/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$port" --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file "$WORK/redis-$port/nodes.conf" --cluster-node-timeout 2000 \
    --logfile "$WORK/redis-$port.log" &
  PIDS+=($!)
  wait_until 10 redis-cli -p "$port" ping || die "redis-server did not start on $port"
done
NODES=()
for port in "${REDIS_PORTS[@]}"; do NODES+=("127.0.0.1:$port"); done
redis-cli --cluster create "${NODES[@]}" --cluster-replicas 1 --cluster-yes >"$WORK/create.log" 2>&1 ||
  { cat "$WORK/create.log" >&2; die "redis-cli --cluster create failed"; }
cluster_ok() { # every node sees the whole cluster, and the nodes agree on the slots (a client connecting
  # while one node still lags refuses to start: "Invalid or missing cluster state")
  local port
  for port in "${REDIS_PORTS[@]}"; do
    redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' || return 1
    redis-cli -p "$port" cluster info | grep -q '^cluster_known_nodes:6' || return 1
  done
  local check
  check=$(redis-cli --cluster check "127.0.0.1:${REDIS_PORTS[0]}") || return 1
  grep -q 'All nodes agree about slots configuration' <<<"$check" && grep -q 'All 16384 slots covered' <<<"$check"
}
wait_until 30 cluster_ok || die "the cluster did not reach cluster_state:ok"
log "Redis Cluster up: 3 primaries and 3 replicas on ${REDIS_PORTS[*]}"

DB_CREATED=1
mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
DATABASE_URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
REDIS_URL="redis-cluster://127.0.0.1:${REDIS_PORTS[0]}?node=127.0.0.1:${REDIS_PORTS[1]}&node=127.0.0.1:${REDIS_PORTS[2]}"
ENV=(RUST_LOG=info BOARD_CONFIG="$WORK/none.toml" DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL"
  BOARD_CACHE_PREFIX="$CACHE_PREFIX" BOARD_JWT_SECRET="cluster-limit-secret-0123456789abcdef"
  BOARD_AUTO_MIGRATE=false BOARD_LOGIN_FAILURES_PER_ACCOUNT=5 BOARD_ROUND_TRIP_HEADERS=true PATH="$PATH"
  BOARD_POINTS_PER_WINDOW=1000000000 BOARD_CREATES_PER_USER=1000000 BOARD_EDITS_PER_USER=1000000)
(cd "$WORK" && env -i "${ENV[@]}" "$BIN" migrate >"$WORK/migrate.log" 2>&1) ||
  { cat "$WORK/migrate.log" >&2; die "board migrate failed"; }

start_board() { # name, port, then environment settings over ENV's
  local name=$1 port=$2
  shift 2
  (cd "$WORK" && exec env -i "${ENV[@]}" "$@" BOARD_BIND="127.0.0.1:$port" "$BIN" serve >"$WORK/board-$name.log" 2>&1) &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/board-$name.log" >&2; die "board $name exited"; }
    sleep 0.2
  done
  die "board $name does not answer after 60 s"
}
start_board A "${BOARD_PORTS[0]}"
start_board B "${BOARD_PORTS[1]}"

gql() { # port, query, variables (JSON), token (optional); the response headers go to $WORK/headers
  local auth=()
  [[ -n ${4:-} ]] && auth=(-H "Authorization: Bearer $4")
  curl -sf -D "$WORK/headers" -H 'Content-Type: application/json' "${auth[@]}" "http://127.0.0.1:$1/graphql" \
    -d "$(jq -cn --arg q "$2" --argjson v "$3" '{query: $q, variables: $v}')"
}
TOKEN=$(gql "${BOARD_PORTS[0]}" 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }' \
  '{"i": {"name": "guarded", "email": "guarded@example.com", "password": "right-password"}}' |
  jq -er '.data.signUp.accessToken') || die "sign-up failed"

declare -A CODES
SEQUENCE=""
for ((i = 0; i < GUESSES; i++)); do
  port=${BOARD_PORTS[$((i % 2))]}
  code=$(gql "$port" 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }' \
    '{"i": {"login": "guarded", "password": "wrong-password"}}' | jq -r '.errors[0].extensions.code // "ok"')
  CODES[$code]=$((${CODES[$code]:-0} + 1))
  SEQUENCE+="${code:0:1}"
done
fallbacks() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^board_limiter_fallbacks_total/ && /guess_account/ {s += $NF} END {print s + 0}'; }
checked=${CODES[UNAUTHENTICATED]:-0}
limited=${CODES[RATE_LIMITED]:-0}
echo "Redis Cluster (3 primaries + 3 replicas), limit 5 guesses per account, $GUESSES wrong passwords alternately through A and B:"
echo "  checked (UNAUTHENTICATED) $checked, RATE_LIMITED $limited, other $((GUESSES - checked - limited)); sequence $SEQUENCE"
echo "  attempts counted in the process (board_limiter_fallbacks_total{limit=\"guess_account\"}): A $(fallbacks "${BOARD_PORTS[0]}"), B $(fallbacks "${BOARD_PORTS[1]}")"
((checked + limited == GUESSES)) || die "some logins answered neither UNAUTHENTICATED nor RATE_LIMITED"
((checked == 5)) || die "$checked guesses were checked: the limit of 5 is not shared across the processes"
log "the guess limit holds across both processes on Redis Cluster"

# The read cache on the cluster: warm reads answered by Redis alone, and a write through A seen through B.
A=${BOARD_PORTS[0]} B=${BOARD_PORTS[1]}
CATEGORY=$(gql "$A" '{ categories { id } }' '{}' | jq -er '.data.categories[0].id') || die "no category"
POST=$(gql "$A" 'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }' \
  "{\"i\": {\"categoryId\": \"$CATEGORY\", \"title\": \"first title\", \"content\": \"body\"}}" "$TOKEN" |
  jq -er '.data.createPost.post.id') || die "createPost failed"
READ='query($id: ID!) { post(id: $id) { title author { name } category { name } } }'
read_via() { gql "$1" "$READ" "{\"id\": \"$POST\"}" | jq -r '.data.post.title // "(error)"'; }
db_trips() { tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "x-db-round-trips" {print $2}'; }
read_via "$B" >/dev/null
read_via "$B" >/dev/null
WARM_DB=$(db_trips)
edit_and_read() { # title: edits the post through A, then reads it through B, A and B, counted in READS and STALE
  gql "$A" 'mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { title } } }' \
    "{\"i\": {\"postId\": \"$POST\", \"title\": \"$1\", \"content\": \"body\"}}" "$TOKEN" |
    jq -e '.data.updatePost.post.title' >/dev/null || die "updatePost failed"
  local port
  for port in "$B" "$A" "$B"; do
    READS=$((READS + 1))
    [[ $(read_via "$port") == "$1" ]] || STALE=$((STALE + 1))
  done
}
STALE=0 READS=0
for round in 1 2 3 4 5; do edit_and_read "title $round"; done
read_via "$B" >/dev/null
read_via "$B" >/dev/null
echo "read cache: a warm post(id:) through B took $WARM_DB database round trips (then $(db_trips) after the edits);" \
  "$STALE stale of $READS reads right after 5 edits through A"
((STALE == 0)) || die "$STALE stale read(s) across processes on Redis Cluster"
[[ $WARM_DB == 0 && $(db_trips) == 0 ]] || die "warm reads still go to the database on Redis Cluster"

# ---- Throughput: the cluster against one Redis (a benchmark: printed, never judged) ----------------------
# The same two reads as bench/run.sh's (a) and (b), through A (the cluster) and through D (a process on one
# Redis of its own), same MariaDB, same posts: BENCH_SECS each after a 1 s warm-up; BENCH_SECS=0 skips it.
if ((BENCH_SECS > 0)); then
  command -v wrk >/dev/null || die "wrk is needed for the throughput comparison (BENCH_SECS=0 skips it)"
  mkdir -p "$WORK/redis-single"
  redis-server --port "$SINGLE_REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis-single" --save "" \
    --appendonly no --logfile "$WORK/redis-single.log" &
  PIDS+=($!)
  wait_until 10 redis-cli -p "$SINGLE_REDIS_PORT" ping || die "redis-server did not start on $SINGLE_REDIS_PORT"
  D=${BOARD_PORTS[3]}
  start_board D "$D" REDIS_URL="redis://127.0.0.1:$SINGLE_REDIS_PORT/0"
  for n in $(seq 1 40); do
    gql "$A" 'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }' \
      "{\"i\": {\"categoryId\": \"$CATEGORY\", \"title\": \"bench $n\", \"content\": \"body $n\"}}" "$TOKEN" |
      jq -er '.data.createPost.post.id' || die "createPost failed"
  done >"$WORK/ids.txt"
  load() { # port, mode, seconds, output: BENCH_RESULT as "rps p50 p99 errors"
    env BENCH_MODE="$2" BENCH_IDS="$WORK/ids.txt" BENCH_CATEGORY="$CATEGORY" \
      wrk -t2 -c32 -d"$3s" --timeout 30s --latency -s "$ROOT/bench/graphql.lua" "http://127.0.0.1:$1/graphql" \
      >"$4" 2>&1 || { cat "$4" >&2; die "wrk failed"; }
    sed -n 's/^BENCH_RESULT //p' "$4" |
      jq -r '"\(.rps) \(.p50_ms) \(.p99_ms) \(.gql_errors + .connect_errors + .read_errors + .write_errors + .status_errors + .timeouts)"'
  }
  echo "throughput, $PROFILE build, wrk -t2 -c32 for ${BENCH_SECS} s on this machine (wrk, both servers, MariaDB and Redis share it):"
  ROOT_PAGE='query RootPage($categoryId: ID!) { posts(categoryId: $categoryId, first: 20) { edges { node { id title voteCount viewerHasVoted commentCount author { name } category { name } } } } }'
  trips() { # port, mode: "DB/cache" round trips of a warm read (x-db-round-trips, x-cache-round-trips)
    local _
    for _ in 1 2; do # the first one warms
      if [[ $2 == post ]]; then read_via "$1" >/dev/null; else gql "$1" "$ROOT_PAGE" "{\"categoryId\": \"$CATEGORY\"}" >/dev/null; fi
    done
    tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "x-db-round-trips" {d = $2} tolower($1) == "x-cache-round-trips" {c = $2} END {print d "/" c}'
  }
  echo "| read | one Redis req/s | p99 ms | trips DB/cache | Redis Cluster req/s | p99 ms | trips DB/cache | cluster / one |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|"
  for mode in post root; do
    load "$D" "$mode" 1 "$WORK/warm-D-$mode.txt" >/dev/null
    read -r one_rps _ one_p99 one_errors < <(load "$D" "$mode" "$BENCH_SECS" "$WORK/wrk-D-$mode.txt")
    load "$A" "$mode" 1 "$WORK/warm-A-$mode.txt" >/dev/null
    read -r cl_rps _ cl_p99 cl_errors < <(load "$A" "$mode" "$BENCH_SECS" "$WORK/wrk-A-$mode.txt")
    [[ $one_errors == 0 && $cl_errors == 0 ]] ||
      die "the $mode load answered errors (one Redis $one_errors, cluster $cl_errors): see $WORK/wrk-*-$mode.txt"
    name=$([[ $mode == post ]] && echo "post(id:), warm" || echo "root page, warm")
    echo "| $name | ${one_rps%.*} | $one_p99 | $(trips "$D" "$mode") | ${cl_rps%.*} | $cl_p99 | $(trips "$A" "$mode") | $(awk -v a="$cl_rps" -v b="$one_rps" 'BEGIN {printf "%.0f %%", 100 * a / b}') |"
  done
fi

rcli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" "$@"; }
pid_of() { rcli "$1" info server | tr -d '\r' | sed -n 's/^process_id://p'; }
# ---- The feed's shard lost -------------------------------------------------------------------------------
# Announcements and sync marks are shard channels of one hash slot ({<prefix>:v1:invalidations}): one shard
# carries them all. Its primary SIGKILLed, an edit through A while the cluster promotes the replica, then
# reads through B and an edit after the promotion: each must show the new title, and B's warm reads must use
# its near cache again (1 cache round trip: the sync round) once it follows the promoted primary.
cache_trips() { tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "x-cache-round-trips" {print $2}'; }
FEED_OWNER=""
for port in "${REDIS_PORTS[@]}"; do
  [[ $(rcli "$port" role | head -1) == master ]] || continue
  # A shard channel of the feed's slot with no listener: only its owner accepts it, the others answer MOVED.
  reply=$(rcli "$port" spublish "{$CACHE_PREFIX:v1:invalidations}:probe" x 2>&1 || true)
  [[ $reply != *MOVED* ]] && { FEED_OWNER=$port; break; }
done
[[ -n $FEED_OWNER ]] || die "no primary owns the feed's slot"
FEED_REPLICA=$(rcli "$FEED_OWNER" info replication | tr -d '\r' | sed -n 's/^slave0:.*port=\([0-9]*\),.*/\1/p')
[[ -n $FEED_REPLICA ]] || die "the feed's primary on $FEED_OWNER has no replica"
read_via "$B" >/dev/null
read_via "$B" >/dev/null
FEED_BEFORE=$(cache_trips)
FEED_PID=$(pid_of "$FEED_OWNER")
{ kill -9 "$FEED_PID" && wait "$FEED_PID"; } 2>/dev/null || true
STALE=0 READS=0
EDIT=$(gql "$A" 'mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { title } } }' \
  "{\"i\": {\"postId\": \"$POST\", \"title\": \"feed lost\", \"content\": \"body\"}}" "$TOKEN" |
  jq -r '.data.updatePost.post.title // "(error)"')
[[ $EDIT == "feed lost" ]] || die "the edit through A failed while the feed's primary was down: $EDIT"
feed_promoted() { [[ $(rcli "$FEED_REPLICA" role | head -1) == master ]]; }
until feed_promoted; do
  for port in "$B" "$A"; do
    READS=$((READS + 1))
    [[ $(read_via "$port") == "feed lost" ]] || STALE=$((STALE + 1))
  done
  sleep 0.1
  ((READS < 1000)) || die "the cluster did not promote the replica on $FEED_REPLICA"
done
log "the feed's primary on $FEED_OWNER SIGKILLed, the replica on $FEED_REPLICA promoted"
# The killed node comes back as a replica (its nodes.conf), so the next scenario finds every shard replicated.
redis-server --port "$FEED_OWNER" --bind 127.0.0.1 --dir "$WORK/redis-$FEED_OWNER" --save "" --appendonly no \
  --cluster-enabled yes --cluster-config-file "$WORK/redis-$FEED_OWNER/nodes.conf" --cluster-node-timeout 2000 \
  --logfile "$WORK/redis-$FEED_OWNER.log" &
PIDS+=($!)
rejoined() { rcli "$FEED_OWNER" info replication | tr -d '\r' | grep -q '^master_link_status:up'; }
wait_until 30 rejoined || die "the node on $FEED_OWNER did not rejoin as a replica"
# Then edits again (the last one back to "title 5", which the next scenario looks for).
for title in "after the feed 1" "after the feed 2" "title 5"; do edit_and_read "$title"; done
near_again() { read_via "$B" >/dev/null && [[ $(cache_trips) == 1 && $(db_trips) == 0 ]]; }
wait_until 10 near_again || die "B's warm reads do not use the near cache again after the feed's failover"
echo "the feed's shard lost: $STALE stale of $READS reads through A and B; a warm read through B" \
  "took $FEED_BEFORE cache round trip(s) before and $(cache_trips) after"
((STALE == 0)) || die "$STALE stale read(s) after the feed's shard failed over"

# ---- A shard's primary lost with an invalidation in flight ------------------------------------------------
entries_with() { # port, text: the keys of string entries holding the text (READONLY: a replica's own keys)
  local key
  rcli "$1" --scan --pattern "*$CACHE_PREFIX*" | while IFS= read -r key; do
    printf 'READONLY\nGET "%s"\n' "$key" | rcli "$1" 2>/dev/null | grep -q -- "$2" && echo "$key"
  done || true
}
read_via "$A" >/dev/null
read_via "$B" >/dev/null
sleep 0.5 # let the fills replicate
OWNER=""
for port in "${REDIS_PORTS[@]}"; do
  [[ $(rcli "$port" role | head -1) == master ]] || continue
  [[ -n $(entries_with "$port" "title 5") ]] && { OWNER=$port; break; }
done
[[ -n $OWNER ]] || die "no primary holds the post's cache entry"
REPLICA=$(rcli "$OWNER" info replication | tr -d '\r' | sed -n 's/^slave0:.*port=\([0-9]*\),.*/\1/p')
[[ -n $REPLICA ]] || die "the primary on $OWNER has no replica"
[[ -n $(entries_with "$REPLICA" "title 5") ]] || die "the replica on $REPLICA holds no copy: nothing to go stale"
OWNER_PID=$(pid_of "$OWNER") REPLICA_PID=$(pid_of "$REPLICA")
kill -STOP "$REPLICA_PID"
rcli "$OWNER" client kill type replica >/dev/null
EDIT=$(gql "$A" 'mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { title } } }' \
  "{\"i\": {\"postId\": \"$POST\", \"title\": \"after the failover\", \"content\": \"body\"}}" "$TOKEN" |
  jq -r '.data.updatePost.post.title // "(error)"')
{ kill -9 "$OWNER_PID" && wait "$OWNER_PID"; } 2>/dev/null || true
KILLED_AT=$(date +%s.%N)
kill -CONT "$REPLICA_PID"
# A process E started while the shard has no primary: it keeps trying to reach the cluster (30 s at most)
# instead of exiting, and serves once the replica is promoted.
E=${BOARD_PORTS[4]}
(cd "$WORK" && exec env -i "${ENV[@]}" BOARD_BIND="127.0.0.1:$E" "$BIN" serve >"$WORK/board-E.log" 2>&1) &
PIDS+=($!)
[[ $EDIT == "after the failover" ]] || die "the edit through A failed: $EDIT"
log "edited through A while the replica on $REPLICA was cut off; its primary on $OWNER SIGKILLed"
promoted() { [[ $(rcli "$REPLICA" role | head -1) == master ]]; }
wait_until 30 promoted || die "the cluster did not promote the replica on $REPLICA within 30 s"
PROMOTED_AFTER=$(awk -v a="$KILLED_AT" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
STALE_ENTRY=$(entries_with "$REPLICA" "title 5" | head -1)
[[ -n $STALE_ENTRY ]] ||
  die "the promoted replica does not hold the old entry: the invalidation reached it, the run proves nothing"
SURVIVOR=""
for port in "${REDIS_PORTS[@]}"; do [[ $port != "$OWNER" ]] && { SURVIVOR=$port; break; }; done
state_ok() { rcli "$SURVIVOR" cluster info | grep -q '^cluster_state:ok'; }
wait_until 30 state_ok || die "the cluster is not ok after the failover"
log "replica promoted after ${PROMOTED_AFTER} s; it still holds the old entry $STALE_ENTRY"

C=${BOARD_PORTS[2]}
echo "Redis Cluster failover: the replica on $REPLICA promoted ${PROMOTED_AFTER} s after its primary was killed"
stale_total=0
failover_reads read_via "after the failover" "title 5" || stale_total=$?
e_up() { curl -sf "http://127.0.0.1:$E/healthz" >/dev/null; }
wait_until 40 e_up || { cat "$WORK/board-E.log" >&2; die "process E, started while the shard had no primary, does not serve"; }
E_STALE=0
for _ in $(seq 20); do [[ $(read_via "$E") == "after the failover" ]] || E_STALE=$((E_STALE + 1)); done
E_TRIES=$(grep -c 'Redis refused; trying again' "$WORK/board-E.log" || true)
echo "process E, started right after the primary was killed: tried Redis $((E_TRIES + 1)) time(s), then served; $E_STALE stale of 20 reads"
stale_total=$((stale_total + E_STALE))
# Not a cache that simply stopped working: warm reads through B are answered by the new namespace.
read_via "$B" >/dev/null
read_via "$B" >/dev/null
AFTER_DB=$(db_trips)
changes() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^board_cache_primary_changes_total/ {s += $NF} END {print s + 0}'; }
echo "new primaries met (board_cache_primary_changes_total): A $(changes "$A"), B $(changes "$B"), C $(changes "$C")"
echo "the old entry $STALE_ENTRY on the promoted replica is never read again; a warm read through B after the" \
  "failover took $AFTER_DB database round trips"
((stale_total == 0)) || die "$stale_total stale read(s) after the cluster failover"
[[ $AFTER_DB == 0 ]] || die "warm reads go to the database after the cluster failover"
log "0 stale reads through A, B and C after the cluster failover"

# ---- A graceful failover (CLUSTER FAILOVER): no stale read, the cache started afresh at most once ---------
# The replica takes over only once it holds everything its primary acknowledged, so nothing is lost: a
# process may keep its namespace (the connections survive; fred follows the slots' MOVED answers) or start a
# new one when it notices the new primary, but never more than once. Reads through A and B all along.
BEFORE_A=$(changes "$A") BEFORE_B=$(changes "$B")
TAKER=""
for port in "${REDIS_PORTS[@]}"; do
  [[ $(rcli "$port" role 2>/dev/null | head -1) == slave ]] && { TAKER=$port; break; }
done
[[ -n $TAKER ]] || die "no replica left to fail over to"
rcli "$TAKER" cluster failover >/dev/null
taken_over() { [[ $(rcli "$TAKER" role | head -1) == master ]]; }
GRACEFUL_STALE=0
for _ in $(seq 60); do
  [[ $(read_via "$A") == "after the failover" ]] || GRACEFUL_STALE=$((GRACEFUL_STALE + 1))
  [[ $(read_via "$B") == "after the failover" ]] || GRACEFUL_STALE=$((GRACEFUL_STALE + 1))
  sleep 0.05
done
wait_until 30 taken_over || die "the replica on $TAKER did not take over within 30 s"
wait_until 30 state_ok || die "the cluster is not ok after the graceful failover"
sleep 1
read_via "$A" >/dev/null
read_via "$B" >/dev/null
GRACEFUL_A=$(($(changes "$A") - BEFORE_A)) GRACEFUL_B=$(($(changes "$B") - BEFORE_B))
echo "graceful CLUSTER FAILOVER to $TAKER: new primaries met A $GRACEFUL_A, B $GRACEFUL_B; $GRACEFUL_STALE stale of 120 reads"
((GRACEFUL_STALE == 0)) || die "$GRACEFUL_STALE stale read(s) across the graceful failover"
((GRACEFUL_A <= 1 && GRACEFUL_B <= 1)) ||
  die "a graceful failover made A start the cache afresh $GRACEFUL_A time(s) and B $GRACEFUL_B (at most once each)"
log "graceful failover: 0 stale reads; the cache started afresh at most once per process"
