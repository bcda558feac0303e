# Shared by sentinel.sh and cluster.sh (sourced, not run): settings, helpers, the clean-up trap and the
# build. The caller sets NAME (temporary directory and messages), DB_NAME and PORTS (every port it will
# listen on) before sourcing; it adds the pids of what it starts to PIDS and sets DB_CREATED once it
# created DB_NAME. Environment: MYSQL_HOST/MYSQL_PORT (127.0.0.1:3306), MYSQL_USER (root), MYSQL_PASSWORD
# (none) with every right on DB_NAME; PROFILE=debug|release (debug); SKIP_BUILD=1 uses the binary as it is.

MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
PROFILE=${PROFILE:-debug}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET_DIR/$PROFILE/board"
WORK=$(mktemp -d "/tmp/board-$NAME.XXXXXX")
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
mysql_cmd() { MYSQL_PWD="$MYSQL_PASSWORD" "$MYSQL_CLIENT" -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" "$@"; }

for tool in redis-server redis-cli curl jq; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
[[ -n $MYSQL_CLIENT ]] || die "a mariadb or mysql client is needed"
for port in "${PORTS[@]}"; do
  if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is taken"; fi
done

PIDS=()
DB_CREATED=""
cleanup() {
  local status=$?
  set +e
  local pid
  for pid in "${PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null # a process a scenario stopped (SIGSTOP) must hear the SIGTERM
    kill "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [[ -n $DB_CREATED ]] && mysql_cmd -e "DROP DATABASE IF EXISTS $DB_NAME"
  log "logs kept in $WORK"
  exit "$status"
}
trap cleanup EXIT

if [[ -z ${SKIP_BUILD:-} ]]; then
  log "building the $PROFILE binary"
  if [[ $PROFILE == release ]]; then (cd "$ROOT" && cargo build --release --bin board); else (cd "$ROOT" && cargo build --bin board); fi
fi
[[ -x $BIN ]] || die "no binary at $BIN"

wait_until() { # seconds, then a command; polls every 0.1 s
  local tries=$(($1 * 10)); shift
  local i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# The reads after a failover that lost an invalidation: through A and B for 5 s, then through a process C
# started now (start_board C "$C") with A and B again, 20 rounds. $1 = a command printing the title read
# through the port given to it, $2 = the new title, $3 = the old one. Counts into READS, STALE, ERRORS
# by process name and prints a table; returns the number of stale reads (0 = none).
declare -A READS STALE ERRORS
failover_reads() {
  local title_of=$1 new=$2 old=$3 name title
  tally() { # name, port
    title=$("$title_of" "$2" || echo "(error)")
    READS[$1]=$((${READS[$1]:-0} + 1))
    if [[ $title == "$old" ]]; then
      STALE[$1]=$((${STALE[$1]:-0} + 1))
    elif [[ $title != "$new" ]]; then
      ERRORS[$1]=$((${ERRORS[$1]:-0} + 1))
    fi
  }
  local end=$(($(date +%s) + 5))
  while (($(date +%s) < end)); do
    tally A "$A"
    tally B "$B"
    sleep 0.05
  done
  start_board C "$C"
  for _ in $(seq 20); do
    tally C "$C"
    tally A "$A"
    tally B "$B"
  done
  local stale_total=0
  echo "| process | reads | stale | errors |"
  echo "|---|--:|--:|--:|"
  for name in A B C; do
    echo "| $name | ${READS[$name]:-0} | ${STALE[$name]:-0} | ${ERRORS[$name]:-0} |"
    stale_total=$((stale_total + ${STALE[$name]:-0}))
  done
  return $((stale_total > 255 ? 255 : stale_total))
}
