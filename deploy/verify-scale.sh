#!/usr/bin/env bash
# Runs docker-compose.scale.yml for real, one profile after the other, with podman, on a Debian machine that
# has no Docker engine and cannot pull from an image registry (the machinery of deploy/verify.sh, in
# deploy/podman/lib.sh):
#
#   cluster    six Redis nodes joined by the one-shot cluster-create, MariaDB, migrate, two replicas
#   sentinel   a Redis primary, its replica, three sentinels, MariaDB, migrate, two replicas
#   galera     three Galera nodes (galera-1 bootstraps, the others join by state transfer), HAProxy, Redis,
#              galera-migrate, two replicas (board-1 writes through galera-1, board-2 through galera-2)
#
# Each profile: every service with a healthcheck turns healthy and every one-shot job exits 0; both replicas'
# /readyz is ready; a post's title edited through one replica is read at once through the other, both ways.
# cluster: every node sees cluster_state:ok, 3 primaries and 3 replicas; a primary is stopped, its replica
# is promoted, both replicas are ready again and the edits read back fresh both ways; started again, the old
# primary comes back as a replica. sentinel: the sentinels name
# redis-primary; it is stopped, the sentinels promote the replica, both replicas are ready again and the
# edits still read back fresh both ways; started again, the old primary comes back as a replica. galera:
# every node is Synced in a cluster of 3 and holds every migration; a write through each replica commits on
# its own node (wsrep_local_commits); galera-1 stopped, board-1's writes go through the backup galera-3;
# galera-1 started again joins (no new cluster) and board-1 writes through it again. Then the stack stops
# with exit code 0 from every service and `down -v` leaves no container, volume or network.
#
# Run as root from the repository root, after deploy/verify.sh (this uses the image it built,
# localhost/board:local, and its base images): bash deploy/verify-scale.sh. Needs podman, runc,
# docker-compose (1.29, Debian's), python3 and curl. Host ports are chosen free at run time.
#
# Environment:
#   BOARD_VERIFY_STATE     where logs and the lock live (default /var/tmp/board-verify, shared with verify.sh)
#   BOARD_VERIFY_PROFILES  the profiles to run, in order (default "cluster sentinel galera")
set -euo pipefail

script=deploy/verify-scale.sh
# shellcheck source=deploy/podman/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/podman/lib.sh"
cd "$repo"
take_lock_and_check_tools podman runc docker-compose python3 curl flock
read -r -a profiles <<<"${BOARD_VERIFY_PROFILES:-cluster sentinel galera}"

compose_env=$state/compose-scale.env
profile=""
project=""
compose() {
    docker-compose -p "$project" --env-file "$compose_env" -f "$repo/docker-compose.scale.yml" \
        --profile "$profile" "$@"
}
container() {
    podman ps -aq --filter "label=com.docker.compose.project=$project" \
        --filter "label=com.docker.compose.service=$1"
}
exit_state() { podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(container "$1")"; }

cleanup() {
    local rc=$?
    set +e
    if [ -n "$project" ]; then
        if [ "$rc" -ne 0 ]; then
            log "failed: the $profile stack's last log lines"
            compose logs --no-color --tail 30 >&2 2>/dev/null
        fi
        compose down -v --remove-orphans >/dev/null 2>&1
    fi
    stop_ticker
    stop_api
    rm -f "$compose_env"
    summary
    [ "$rc" -eq 0 ] && echo "==> $script: all checks passed" || echo "==> $script: FAILED (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# Images: the board image deploy/verify.sh built, and stand-ins under the official names
# ---------------------------------------------------------------------------------------------------------------
begin "images (board:local from deploy/verify.sh; stand-ins for mariadb:10.11, redis:7, haproxy:2.6)"
podman image exists localhost/board:local \
    || die "no localhost/board:local: run deploy/verify.sh first (it builds the image from the Dockerfile)"
log "board:local built $(podman image inspect --format '{{.Created}}' localhost/board:local | cut -d. -f1)"
# docker-compose asks the Docker API for `board:local`, which Docker reads as docker.io/library/board:local.
podman tag localhost/board:local docker.io/library/board:local
standin mariadb docker.io/library/mariadb:10.11
standin redis docker.io/library/redis:7
standin haproxy docker.io/library/haproxy:2.6
start_api

umask 077
cat >"$compose_env" <<EOF
BOARD_JWT_SECRET=$(random_hex 32)
MARIADB_DATABASE=board
MARIADB_USER=board
MARIADB_PASSWORD=$(random_hex 24)
MARIADB_ROOT_PASSWORD=$(random_hex 24)
BOARD_1_PORT=$(free_port)
BOARD_2_PORT=$(free_port)
RUST_LOG=info
EOF
umask 022
# shellcheck disable=SC1090
. "$compose_env"
board_1=http://127.0.0.1:$BOARD_1_PORT
board_2=http://127.0.0.1:$BOARD_2_PORT
declare -A url=([board-1]=$board_1 [board-2]=$board_2)
log "board-1 is $board_1, board-2 $board_2 (each profile's two replicas)"
volumes_before=$(podman volume ls -q | sort)

# ---------------------------------------------------------------------------------------------------------------
# Each profile: up, healthy, checks, a clean stop, nothing left
# ---------------------------------------------------------------------------------------------------------------
# up PROFILE: every service of the profile; healthy and one-shot services are named by the caller.
up() {
    profile=$1
    project=board-scale-$profile
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    start_ticker
    begin "$profile: compose up"
    # docker-compose waits for each dependency's condition (healthy, completed successfully) before starting
    # the services that need it; the ticker runs the healthchecks it waits for.
    if ! timeout 900 docker-compose -p "$project" --env-file "$compose_env" -f "$repo/docker-compose.scale.yml" \
            --profile "$profile" up -d --no-build >"$logs/scale-$profile-up.log" 2>&1; then
        cat "$logs/scale-$profile-up.log" >&2
        die "docker-compose up ($profile) failed"
    fi
}
expect_healthy() {
    local service
    for service in "$@"; do
        wait_healthy "$(container "$service")" 240
    done
    log "healthy: $*"
}
expect_done() {
    local service
    for service in "$@"; do
        [ "$(exit_state "$service")" = "exited 0" ] || die "$service: $(exit_state "$service"), expected exited 0"
        podman logs "$(container "$service")" >"$logs/scale-$profile-$service.log" 2>&1
    done
    log "one-shot jobs exited 0: $*"
}
# Both replicas ready, and edits through each read back at once through the other.
both_ways() {
    checks ready "$board_1"
    checks ready "$board_2"
    checks edit-read "$board_1" "$board_2" "$token" "$post"
    checks edit-read "$board_2" "$board_1" "$token" "$post"
}
down() {
    begin "$profile: compose stop, down"
    logged "scale-$profile-stop" compose stop -t 30
    local service unclean=""
    for service in $(podman ps -a --filter "label=com.docker.compose.project=$project" \
            --format '{{index .Labels "com.docker.compose.service"}}' | sort -u); do
        [ "$(exit_state "$service")" = "exited 0" ] || unclean+=" $service($(exit_state "$service"))"
    done
    [ -z "$unclean" ] || die "$profile: not stopped cleanly:$unclean"
    logged "scale-$profile-down" compose down -v --remove-orphans
    local kind left
    for kind in ps volume network; do
        case $kind in
            ps) left=$(podman ps -aq --filter "label=com.docker.compose.project=$project") ;;
            *) left=$(podman "$kind" ls -q --filter "label=com.docker.compose.project=$project") ;;
        esac
        [ -z "$left" ] || die "$profile: ${kind/ps/container}s left after down: $left"
    done
    [ "$(podman volume ls -q | sort)" = "$volumes_before" ] || die "$profile: anonymous volumes left after down"
    log "$profile: every service exited 0; no container, volume or network left"
    stop_ticker
    project=""
}

# ---------------------------------------------------------------------------------------------------------------
# cluster
# ---------------------------------------------------------------------------------------------------------------
run_cluster() {
    local nodes=(redis-node-1 redis-node-2 redis-node-3 redis-node-4 redis-node-5 redis-node-6) node info roles author
    up cluster
    expect_healthy mariadb "${nodes[@]}" cluster-board-1 cluster-board-2
    expect_done migrate cluster-create
    begin "cluster: checks"
    for node in "${nodes[@]}"; do
        info=$(podman exec "$(container "$node")" redis-cli cluster info | tr -d '\r')
        if ! grep -q '^cluster_state:ok' <<<"$info" || ! grep -q '^cluster_known_nodes:6' <<<"$info"; then
            die "$node: $(grep -E 'cluster_state|cluster_known_nodes' <<<"$info" | tr '\n' ' ')"
        fi
    done
    roles=$(podman exec "$(container redis-node-1)" redis-cli cluster nodes \
        | awk '{ sub(/^myself,/, "", $3); print $3 }' | sort | uniq -c | tr -s ' \n' ' ')
    [ "$roles" = " 3 master 3 slave " ] || die "cluster roles:$roles, expected 3 master 3 slave"
    log "every node: cluster_state:ok, 6 known nodes; roles:$roles"
    author=$(checks author "$board_1")
    read -r token post <<<"$author"
    both_ways

    # A primary stopped: its replica is promoted, both replicas are ready again (the cache starts afresh in
    # the new primaries' namespace) and read each other's edits; started again, the old primary is a replica.
    local primary="" witness="" i state role started
    for node in "${nodes[@]}"; do
        role=$(podman exec "$(container "$node")" redis-cli role | head -n 1 | tr -d '\r')
        if [ "$role" = master ] && [ -z "$primary" ]; then
            primary=$node
        elif [ -z "$witness" ]; then
            witness=$node
        fi
    done
    [ -n "$primary" ] && [ -n "$witness" ] || die "cluster: no primary found among ${nodes[*]}"
    begin "cluster: failover ($primary stopped)"
    started=$SECONDS
    logged scale-cluster-stop-primary compose stop -t 10 "$primary"
    for ((i = 0; i < 60; i++)); do
        state=$(podman exec "$(container "$witness")" redis-cli cluster info | tr -d '\r' \
            | sed -n 's/^cluster_state://p')
        roles=$(podman exec "$(container "$witness")" redis-cli cluster nodes \
            | awk '$3 !~ /fail/ { sub(/^myself,/, "", $3); print $3 }' | sort | uniq -c | tr -s ' \n' ' ')
        [ "$state" = ok ] && [ "$roles" = " 3 master 2 slave " ] && break
        sleep 1
    done
    [ "$state" = ok ] && [ "$roles" = " 3 master 2 slave " ] \
        || die "cluster: no replica of $primary promoted within 60 s (state $state, live roles:$roles)"
    log "a replica of $primary was promoted $((SECONDS - started)) s after it was stopped (live roles:$roles)"
    checks wait-http "$board_1/readyz" 60
    checks wait-http "$board_2/readyz" 60
    both_ways
    logged scale-cluster-start-primary compose start "$primary"
    for ((i = 0; i < 60; i++)); do
        role=$(podman exec "$(container "$primary")" redis-cli role 2>/dev/null | head -n 1 | tr -d '\r')
        [ "$role" = slave ] && break
        sleep 1
    done
    [ "$role" = slave ] || die "$primary, started again, is '$role', expected a replica"
    log "$primary, started again, is a replica"
    down
}

# ---------------------------------------------------------------------------------------------------------------
# sentinel
# ---------------------------------------------------------------------------------------------------------------
run_sentinel() {
    local sentinels=(sentinel-1 sentinel-2 sentinel-3) primary i started role author
    up sentinel
    expect_healthy mariadb redis-primary redis-replica "${sentinels[@]}" sentinel-board-1 sentinel-board-2
    expect_done migrate
    begin "sentinel: checks"
    primary_name() {
        podman exec "$(container sentinel-1)" redis-cli -p 26379 sentinel get-master-addr-by-name board \
            | head -n 1 | tr -d '\r'
    }
    primary=$(primary_name)
    [ "$primary" = redis-primary ] || die "the sentinels name '$primary' as the primary, expected redis-primary"
    podman exec "$(container sentinel-1)" redis-cli -p 26379 sentinel ckquorum board >&2
    author=$(checks author "$board_1")
    read -r token post <<<"$author"
    both_ways

    begin "sentinel: failover (redis-primary stopped)"
    started=$SECONDS
    logged scale-sentinel-stop-primary compose stop -t 10 redis-primary
    for ((i = 0; i < 60; i++)); do
        primary=$(primary_name)
        [ -n "$primary" ] && [ "$primary" != redis-primary ] && break
        sleep 1
    done
    [ "$primary" != redis-primary ] || die "the sentinels did not promote the replica within 60 s"
    log "the sentinels promoted $primary (the replica) $((SECONDS - started)) s after redis-primary was stopped"
    checks wait-http "$board_1/readyz" 60
    checks wait-http "$board_2/readyz" 60
    both_ways
    logged scale-sentinel-start-primary compose start redis-primary
    for ((i = 0; i < 60; i++)); do
        role=$(podman exec "$(container redis-primary)" redis-cli role 2>/dev/null | head -n 1 | tr -d '\r')
        [ "$role" = slave ] && break
        sleep 1
    done
    [ "$role" = slave ] || die "redis-primary, started again, is '$role', expected a replica of $primary"
    log "redis-primary, started again, is a replica of the new primary"
    down
}

# ---------------------------------------------------------------------------------------------------------------
# galera
# ---------------------------------------------------------------------------------------------------------------
galera_sql() { # node, SQL: one value per line
    podman exec "$(container "galera-$1")" mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -N -B -e "$2" "$MARIADB_DATABASE"
}
galera_status() { galera_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2; }
commits() { galera_status "$1" wsrep_local_commits; }
# write_through NODE WRITE READ (replica names): an edit through WRITE, read through READ, committed on galera-NODE
# (wsrep_local_commits grew). Tried again for 30 s: what failed before is reported by its error code.
write_through() {
    local node=$1 write=$2 read=$3 before i failures=() out
    for ((i = 0; i < 30; i++)); do
        before=$(commits "$node")
        if out=$(checks edit-read "${url[$write]}" "${url[$read]}" "$token" "$post" 2>&1); then
            [ "$(commits "$node")" -gt "$before" ] && break
            failures+=("committed elsewhere")
        else
            failures+=("$(grep -o '"code": "[A-Z_]*"' <<<"$out" | head -n 1 | cut -d'"' -f4)")
            [ -n "${failures[-1]}" ] || failures[-1]=$(tail -n 1 <<<"$out")
        fi
        sleep 1
    done
    ((i < 30)) || die "no edit through $write committed on galera-$node within 30 s: ${failures[*]}"
    log "an edit through $write committed on galera-$node, read back at once through $read" \
        "(attempts before it: ${#failures[@]}${failures[*]:+: ${failures[*]}})"
}

run_galera() {
    local node applied migrations started i author
    up galera
    expect_healthy galera-1 galera-2 galera-3 haproxy redis galera-board-1 galera-board-2
    expect_done galera-migrate
    begin "galera: checks"
    migrations=$(find migrations/mysql -name '*.sql' | wc -l)
    for node in 1 2 3; do
        [ "$(galera_status "$node" wsrep_local_state_comment)" = Synced ] || die "galera-$node is not Synced"
        [ "$(galera_status "$node" wsrep_cluster_size)" = 3 ] || die "galera-$node is not in a cluster of 3"
        applied=$(galera_sql "$node" 'SELECT COUNT(*) FROM _sqlx_migrations WHERE success')
        [ "$applied" = "$migrations" ] || die "galera-$node holds $applied migrations, migrations/mysql has $migrations"
    done
    log "galera-1..3: Synced, cluster size 3, each holds all $migrations migrations"
    checks ready "$board_1"
    checks ready "$board_2"
    author=$(checks author "$board_1")
    read -r token post <<<"$author"
    write_through 1 board-1 board-2
    write_through 2 board-2 board-1

    begin "galera: galera-1 stopped, board-1 on the backup"
    logged scale-galera-stop-1 compose stop -t 30 galera-1
    [ "$(exit_state galera-1)" = "exited 0" ] || die "galera-1 after stop: $(exit_state galera-1)"
    write_through 3 board-1 board-2
    begin "galera: galera-1 started again"
    started=$SECONDS
    logged scale-galera-start-1 compose start galera-1
    for ((i = 0; i < 240; i++)); do
        [ "$(galera_status 1 wsrep_local_state_comment 2>/dev/null)" = Synced ] && break
        sleep 1
    done
    ((i < 240)) || die "galera-1, started again, is not Synced within 240 s"
    wait_healthy "$(container galera-1)" 60
    podman logs "$(container galera-1)" 2>&1 | grep 'galera-start:' | tail -n 1 | grep -q 'joining the cluster' \
        || die "galera-1 did not join the running cluster (galera-start.sh)"
    [ "$(galera_status 1 wsrep_cluster_size)" = 3 ] || die "galera-1 is back but not in a cluster of 3"
    log "galera-1 joined the running cluster again, Synced after $((SECONDS - started)) s"
    write_through 1 board-1 board-2
    down
}

for name in "${profiles[@]}"; do
    case "$name" in
        cluster | sentinel | galera) "run_$name" ;;
        *) die "unknown profile $name (cluster, sentinel, galera)" ;;
    esac
done
