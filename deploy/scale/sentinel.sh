#!/usr/bin/env bash
# Redis Sentinel failover without stale reads: an invalidation acknowledged to a writer is lost with the
# primary (replication is asynchronous), yet no process serves the old value afterwards.
#
#   bash deploy/scale/sentinel.sh
#
# On 127.0.0.1: a Redis primary (7101), its replica (7102) and three sentinels (7111-7113, quorum 2,
# down-after 1 s), MariaDB (database `board_sentinel`, dropped at the end), two `board serve` processes A and
# B on the Sentinel URL. It warms a post in A and B, cuts the replica's replication link (the replica is
# stopped with SIGSTOP and the primary drops its link, so the next write reaches the primary only), edits
# the post through A, SIGKILLs the primary, resumes the replica and waits for the sentinels to promote it.
# The promoted replica still holds the post's old cache entry (checked: otherwise the run proves nothing).
# Then it reads the post through A and B for 5 s, and through a process C started after the
# promotion: every read must show the new title. Prints a summary; exits non-zero on a stale read.
#
# Needs redis-server (Debian's, 7.x: it runs sentinels with --sentinel), redis-cli, a MariaDB client, curl,
# jq and cargo. Environment: MYSQL_HOST/MYSQL_PORT (127.0.0.1:3306), MYSQL_USER (root), MYSQL_PASSWORD
# (none) with every right on `board_sentinel`; PROFILE=debug|release (debug); SKIP_BUILD=1 to use the
# binary as it is.
set -euo pipefail

PRIMARY_PORT=7101
REPLICA_PORT=7102
SENTINEL_PORTS=(7111 7112 7113)
BOARD_PORTS=(18201 18202 18203)
SERVICE=boardsentinel
DB_NAME=board_sentinel
CACHE_PREFIX=sentinel
NAME=sentinel
PORTS=("$PRIMARY_PORT" "$REPLICA_PORT" "${SENTINEL_PORTS[@]}" "${BOARD_PORTS[@]}")
# shellcheck source=deploy/scale/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
rcli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# --- Redis: primary, replica, sentinels ------------------------------------------------------------------
start_redis() { # port, extra arguments
  local port=$1; shift
  mkdir -p "$WORK/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$port" --save "" --appendonly no \
    --logfile "$WORK/redis-$port.log" "$@" &
  PIDS+=($!)
  wait_until 10 rcli "$port" ping || die "redis-server did not start on $port"
}
start_redis "$PRIMARY_PORT"
PRIMARY_PID=${PIDS[-1]}
start_redis "$REPLICA_PORT" --replicaof 127.0.0.1 "$PRIMARY_PORT"
REPLICA_PID=${PIDS[-1]}
link_up() { rcli "$REPLICA_PORT" info replication | grep -q '^master_link_status:up'; }
wait_until 20 link_up || die "the replica did not sync"

for port in "${SENTINEL_PORTS[@]}"; do
  cat >"$WORK/sentinel-$port.conf" <<EOF
port $port
bind 127.0.0.1
dir $WORK
logfile $WORK/sentinel-$port.log
sentinel monitor $SERVICE 127.0.0.1 $PRIMARY_PORT 2
sentinel down-after-milliseconds $SERVICE 1000
sentinel failover-timeout $SERVICE 10000
sentinel parallel-syncs $SERVICE 1
EOF
  redis-server "$WORK/sentinel-$port.conf" --sentinel &
  PIDS+=($!)
done
quorum_ok() {
  rcli "${SENTINEL_PORTS[0]}" sentinel ckquorum "$SERVICE" | grep -q '^OK' &&
    [[ $(rcli "${SENTINEL_PORTS[0]}" sentinel replicas "$SERVICE" | grep -c "$REPLICA_PORT") -ge 1 ]] &&
    [[ $(rcli "${SENTINEL_PORTS[0]}" sentinel sentinels "$SERVICE" | grep -c '^name$') -ge 2 ]]
}
wait_until 30 quorum_ok || die "the sentinels did not find each other and the replica"
log "Redis primary :$PRIMARY_PORT, replica :$REPLICA_PORT, sentinels :${SENTINEL_PORTS[*]} (quorum 2)"

# --- MariaDB and the board processes ----------------------------------------------------------------------
DB_CREATED=1
mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
DATABASE_URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
REDIS_URL="redis-sentinel://127.0.0.1:${SENTINEL_PORTS[0]}/0?sentinelServiceName=$SERVICE"
REDIS_URL+="&node=127.0.0.1:${SENTINEL_PORTS[1]}&node=127.0.0.1:${SENTINEL_PORTS[2]}"
ENV=(RUST_LOG=info BOARD_CONFIG="$WORK/none.toml" DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL"
  BOARD_CACHE_PREFIX="$CACHE_PREFIX" BOARD_JWT_SECRET="sentinel-failover-secret-0123456789abcdef"
  BOARD_AUTO_MIGRATE=false PATH="$PATH")
(cd "$WORK" && env -i "${ENV[@]}" "$BIN" migrate >"$WORK/migrate.log" 2>&1) ||
  { cat "$WORK/migrate.log" >&2; die "board migrate failed"; }

start_board() { # name, port
  local name=$1 port=$2
  (cd "$WORK" && exec env -i "${ENV[@]}" BOARD_BIND="127.0.0.1:$port" "$BIN" serve >"$WORK/board-$name.log" 2>&1) &
  PIDS+=($!)
  local pid=$!
  ready() { curl -sf "http://127.0.0.1:$port/readyz"; }
  for _ in $(seq 300); do
    ready >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/board-$name.log" >&2; die "board $name exited"; }
    sleep 0.2
  done
  die "board $name is not ready after 60 s"
}
start_board A "${BOARD_PORTS[0]}"
start_board B "${BOARD_PORTS[1]}"

gql() { # port, token (or ""), query, variables (JSON)
  local port=$1 token=$2 query=$3 variables=${4:-'{}'}
  local auth=()
  [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
  curl -sf -H 'Content-Type: application/json' "${auth[@]}" "http://127.0.0.1:$port/graphql" \
    -d "$(jq -cn --arg q "$query" --argjson v "$variables" '{query: $q, variables: $v}')"
}

A=${BOARD_PORTS[0]} B=${BOARD_PORTS[1]} C=${BOARD_PORTS[2]}
TOKEN=$(gql "$A" "" 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }' \
  '{"i": {"name": "failover", "email": "failover@example.com", "password": "failover-password"}}' |
  jq -er '.data.signUp.accessToken') || die "sign-up failed"
CATEGORY=$(gql "$A" "" '{ categories { id } }' | jq -er '.data.categories[0].id') || die "no category"
POST=$(gql "$A" "$TOKEN" 'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }' \
  "{\"i\": {\"categoryId\": \"$CATEGORY\", \"title\": \"before the failover\", \"content\": \"body\"}}" |
  jq -er '.data.createPost.post.id') || die "createPost failed (category $CATEGORY)"
READ='query($id: ID!) { post(id: $id) { title } }'
title_via() { gql "$1" "" "$READ" "{\"id\": \"$POST\"}" | jq -r '.data.post.title // "(error)"'; }
for port in "$A" "$B" "$A" "$B"; do
  [[ $(title_via "$port") == "before the failover" ]] || die "the post does not read back through :$port"
done
# The entry as the cache holds it (whatever its key looks like): the post's id and its old title.
entries_with() { # port, text
  local key
  rcli "$1" --scan --pattern "*$CACHE_PREFIX*" | while IFS= read -r key; do
    [[ $(rcli "$1" type "$key") == string ]] || continue
    rcli "$1" get "$key" | grep -q -- "$2" && echo "$key"
  done || true
}
sleep 0.5 # let the fills replicate
WARM=$(entries_with "$REPLICA_PORT" "before the failover" | head -1)
[[ -n $WARM ]] || die "the replica holds no cached copy of the post: nothing to go stale"
log "post $POST is warm in A and B; the replica holds its cache entry $WARM"

# --- Cut the replication link, write, kill the primary ----------------------------------------------------
kill -STOP "$REPLICA_PID"
rcli "$PRIMARY_PORT" client kill type replica >/dev/null
EDIT=$(gql "$A" "$TOKEN" 'mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { title } } }' \
  "{\"i\": {\"postId\": \"$POST\", \"title\": \"after the failover\", \"content\": \"body\"}}" |
  jq -r '.data.updatePost.post.title // "(error)"')
{ kill -9 "$PRIMARY_PID" && wait "$PRIMARY_PID"; } 2>/dev/null || true
KILLED_AT=$(date +%s.%N)
kill -CONT "$REPLICA_PID"
[[ $EDIT == "after the failover" ]] || die "the edit through A failed: $EDIT"
log "edited through A while the replica was cut off; primary SIGKILLed"

promoted() { rcli "$REPLICA_PORT" role | head -1 | grep -qx master; }
wait_until 30 promoted || die "the sentinels did not promote the replica within 30 s"
PROMOTED_AFTER=$(awk -v a="$KILLED_AT" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
STALE_ENTRY=$(entries_with "$REPLICA_PORT" "before the failover" | head -1)
[[ -n $STALE_ENTRY ]] ||
  die "the promoted replica does not hold the old entry: the invalidation reached it, the run proves nothing"
log "replica promoted after ${PROMOTED_AFTER} s; it still holds the old entry $STALE_ENTRY"

# --- Reads: A and B for 5 s, then a fresh process C -------------------------------------------------------
echo "Sentinel failover: replica promoted ${PROMOTED_AFTER} s after the primary was killed"
stale_total=0
failover_reads title_via "after the failover" "before the failover" || stale_total=$?

# Not a cache that simply stopped working: the new primary holds the post again, with its new title.
FRESH_ENTRY=$(entries_with "$REPLICA_PORT" "after the failover" | head -1)
[[ -n $FRESH_ENTRY ]] || die "the new primary caches nothing for the post: reads never went through the cache"

changes() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^board_cache_primary_changes_total/ {s += $NF} END {print s + 0}'; }
echo "cache entries on the new primary: old $STALE_ENTRY (never read again), new $FRESH_ENTRY"
echo "new primaries met (board_cache_primary_changes_total): A $(changes "$A"), B $(changes "$B"), C $(changes "$C")"
if ((stale_total > 0)); then
  die "$stale_total stale read(s) after the failover"
fi
log "0 stale reads through A, B and C"
