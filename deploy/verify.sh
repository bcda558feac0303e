#!/usr/bin/env bash
# Builds the Dockerfile and runs the image and the core of docker-compose.yml for real, with podman, on a
# Debian machine that has no Docker engine and cannot pull from an image registry:
#
#   1. base images, made locally once and kept: debian:bookworm-slim (debootstrap), and
#      rust:<RUST_VERSION>-slim-bookworm (that root + gcc + this machine's own Rust tool chain)
#   2. `podman build` of the Dockerfile, unchanged (its dependency layer is kept between runs)
#   3. the image: runs as uid 10001, `board --version`, the embedded default keeps a user across a restart
#      of its container (volume on /data), its HEALTHCHECK turns healthy
#   4. docker-compose.yml itself, through docker-compose against podman's Docker API: mariadb, redis, migrate,
#      board-1, board-2, proxy and prometheus, with stand-in images built from Debian's packages under the
#      official names (deploy/podman/standins/). Grafana, Elasticsearch, Logstash, Kibana and Jaeger are not started:
#      Debian packages none of them. Checks: migrate ran once and exited 0; both replicas and the proxy turn
#      healthy; a write through the proxy is read back; a replica stopped under load fails no request;
#      Prometheus scrapes both replicas' /metrics; the stack stops cleanly (exit 0) and leaves nothing behind.
#
# Run as root from the repository root: bash deploy/verify.sh. Needs podman, runc, debootstrap,
# docker-compose (1.29, Debian's), python3 and curl (.ci/run installs them). Host ports are chosen free at
# run time; the machine's own services (MariaDB on 3306, Redis on 6379, ...) are never touched: the stack runs
# on a network of its own.
#
# Environment:
#   BOARD_VERIFY_STATE   where logs and the lock live (default /var/tmp/board-verify)
#   BOARD_VERIFY_REBASE  1: make the base images again even if they exist
#   DEBIAN_MIRROR        for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

script=deploy/verify.sh
# shellcheck source=deploy/podman/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/podman/lib.sh"
cd "$repo"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
project=board-verify
take_lock_and_check_tools podman runc debootstrap docker-compose python3 curl flock

# ---------------------------------------------------------------------------------------------------------------
# Clean-up, however the script ends.
# ---------------------------------------------------------------------------------------------------------------
compose_env=$state/compose.env
compose() {
    docker-compose -p "$project" --env-file "$compose_env" -f "$repo/docker-compose.yml" "$@"
}
cleanup() {
    local rc=$?
    set +e
    if [ "$rc" -ne 0 ] && [ -n "$api_pid" ]; then
        log "failed: the stack's last log lines"
        compose logs --no-color --tail 30 >&2 2>/dev/null
    fi
    if [ -n "$api_pid" ]; then
        compose down -v --remove-orphans >/dev/null 2>&1
    fi
    podman rm -f -t 5 board-verify-embedded >/dev/null 2>&1
    podman volume rm -f board-verify-data >/dev/null 2>&1
    stop_ticker
    stop_api
    rm -f "$compose_env"
    summary
    [ "$rc" -eq 0 ] && echo "==> deploy/verify.sh: all checks passed" || echo "==> deploy/verify.sh: FAILED (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
# A signal ends the script as a failure (the EXIT trap then cleans up and says so).
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of an interrupted run.
podman rm -f -t 5 board-verify-embedded >/dev/null 2>&1 || true
podman volume rm -f board-verify-data >/dev/null 2>&1 || true

# ---------------------------------------------------------------------------------------------------------------
# 1. Base images
# ---------------------------------------------------------------------------------------------------------------
rust_version=$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)
[ -n "$rust_version" ] || die "no ARG RUST_VERSION=… in the Dockerfile"
debian_image=docker.io/library/debian:bookworm-slim
rust_image=docker.io/library/rust:${rust_version}-slim-bookworm

begin "base image $debian_image"
if [ "${BOARD_VERIFY_REBASE:-0}" = 1 ] || ! podman image exists "$debian_image"; then
    rootfs=$state/rootfs
    rm -rf "$rootfs"
    logged debootstrap debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    tar -C "$rootfs" -c . | logged import podman import --change 'CMD ["bash"]' - "$debian_image"
    rm -rf "$rootfs"
    log "made $debian_image with debootstrap"
else
    log "kept $debian_image"
fi

begin "base image $rust_image"
command -v rustc >/dev/null 2>&1 || die "rustc is not on PATH (the builder image copies this machine's tool chain)"
host_rustc=$(rustc --version)
case "$host_rustc" in
    "rustc $rust_version."*) ;;
    *) die "the Dockerfile builds with Rust $rust_version, this machine has $host_rustc: no other tool chain can be fetched here" ;;
esac
image_rustc=$(podman run --rm --network=none "$rust_image" rustc --version 2>/dev/null || true)
if [ "${BOARD_VERIFY_REBASE:-0}" = 1 ] || [ "$image_rustc" != "$host_rustc" ]; then
    logged rust-image podman build --network=host --pull=never --format docker --no-cache \
        -v "$(rustc --print sysroot):/toolchain:ro" \
        -v /etc/ssl/certs/ca-certificates.crt:/host-ca-certificates.crt:ro \
        -f deploy/podman/rust.Containerfile -t "$rust_image" deploy/podman
    log "made $rust_image ($host_rustc)"
else
    log "kept $rust_image ($image_rustc)"
fi

# ---------------------------------------------------------------------------------------------------------------
# 2. The image, from the Dockerfile as it is
# ---------------------------------------------------------------------------------------------------------------
# The builder stage is tagged too, so that pruning old images never drops the cached dependency layer (an
# ancestor of this tag), while the previous runs' leftovers go.
image_ids() {
    podman image inspect --format '{{.Id}}' localhost/board:local localhost/board-builder:cache 2>/dev/null || true
}
old_ids=$(image_ids)
begin "podman build (builder stage)"
logged build-builder podman build --network=host --pull=never --format docker --target builder \
    -t localhost/board-builder:cache -f Dockerfile .
cached=$(grep -c -- '--> Using cache' "$logs/build-builder.log" || true)
log "builder stage: $cached of its steps from the cache"
begin "podman build (image)"
logged build-image podman build --network=host --pull=never --format docker -t localhost/board:local -f Dockerfile .
# The previous run's images, if this build replaced them (their cached layers that nothing uses go with them).
new_ids=$(image_ids)
for id in $old_ids; do
    if ! grep -q "$id" <<<"$new_ids"; then
        podman untag "$id" >/dev/null 2>&1 || true
        podman rmi "$id" >/dev/null 2>&1 || true
    fi
done

# ---------------------------------------------------------------------------------------------------------------
# 3. The image on its own
# ---------------------------------------------------------------------------------------------------------------
begin "image checks (user, --version, embedded default with a volume, HEALTHCHECK)"
image=localhost/board:local
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || die "the image's USER is '$user', expected 10001:10001"
uid=$(podman run --rm --network=none --entrypoint id "$image" -u 2>>"$logs/podman.log")
[ "$uid" = 10001 ] || die "the image runs as uid $uid, expected 10001"
version=$(podman run --rm --network=none "$image" --version 2>>"$logs/podman.log")
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
case "$version" in
    *"$crate_version"*) log "board --version: $version; runs as uid $uid" ;;
    *) die "board --version printed '$version', expected $crate_version" ;;
esac
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
case "$healthcheck" in
    *healthz*) ;;
    *) die "the image has no HEALTHCHECK on /healthz (podman build --format docker keeps it): $healthcheck" ;;
esac

start_ticker
embedded_port=$(free_port)
podman volume create board-verify-data >/dev/null
podman run -d --name board-verify-embedded --label board-verify=1 -p "127.0.0.1:$embedded_port:8080" \
    -v board-verify-data:/data "$image" >/dev/null 2>>"$logs/podman.log"
embedded=http://127.0.0.1:$embedded_port
checks wait-http "$embedded/healthz" 60
password=verify-$(random_hex 8)
name=verify_$(random_hex 4)
user_id=$(checks signup "$embedded" "$name" "$password")
podman restart -t 10 board-verify-embedded >/dev/null 2>>"$logs/podman.log"
checks wait-http "$embedded/healthz" 60
checks login "$embedded" "$name" "$password" "$user_id"
owner=$(podman exec board-verify-embedded stat -c '%u %n' /data/board.db)
log "embedded: $name ($user_id) still there after a restart; $owner"
wait_healthy board-verify-embedded 90
log "embedded: HEALTHCHECK reports healthy"
podman rm -f -t 10 board-verify-embedded >/dev/null 2>>"$logs/podman.log"
podman volume rm board-verify-data >/dev/null

# ---------------------------------------------------------------------------------------------------------------
# 4. docker-compose.yml, the core services
# ---------------------------------------------------------------------------------------------------------------
begin "stand-in images (MariaDB, Redis, nginx, Prometheus from Debian's packages)"
standin mariadb docker.io/library/mariadb:10.11
standin redis docker.io/library/redis:7-alpine
standin nginx docker.io/library/nginx:1.27-alpine
standin prometheus docker.io/prom/prometheus:v2.55.1
# docker-compose asks the Docker API for `board:local`, which Docker reads as docker.io/library/board:local.
podman tag localhost/board:local docker.io/library/board:local

core=(mariadb redis migrate board-1 board-2 proxy prometheus)
log "not started: grafana elasticsearch logstash kibana jaeger (no Debian packages to stand in for their images)"

begin "compose up (${core[*]})"
start_api

http_port=$(free_port)
prometheus_port=$(free_port)
umask 077
cat >"$compose_env" <<EOF
BOARD_JWT_SECRET=$(random_hex 32)
MARIADB_DATABASE=board
MARIADB_USER=board
MARIADB_PASSWORD=$(random_hex 24)
MARIADB_ROOT_PASSWORD=$(random_hex 24)
GRAFANA_ADMIN_PASSWORD=$(random_hex 16)
BOARD_HTTP_PORT=$http_port
PROMETHEUS_PORT=$prometheus_port
GRAFANA_PORT=$(free_port)
KIBANA_PORT=$(free_port)
JAEGER_PORT=$(free_port)
RUST_LOG=info
EOF
umask 022
compose down -v --remove-orphans >/dev/null 2>&1 || true
# docker-compose waits for each dependency's condition (healthy, completed successfully) before starting
# the services that need it; the ticker above runs the healthchecks it waits for.
if ! timeout 900 docker-compose -p "$project" --env-file "$compose_env" -f docker-compose.yml \
        up -d --no-build "${core[@]}" >"$logs/compose-up.log" 2>&1; then
    cat "$logs/compose-up.log" >&2
    die "docker-compose up failed"
fi
container() { podman ps -aq --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1"; }
for service in mariadb redis board-1 board-2 proxy prometheus; do
    wait_healthy "$(container "$service")" 180
done
log "healthy: mariadb redis board-1 board-2 proxy prometheus"

begin "compose checks"
migrate_ids=$(container migrate)
[ "$(printf '%s\n' "$migrate_ids" | grep -c .)" = 1 ] || die "expected one migrate container, found: $migrate_ids"
migrate_state=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$migrate_ids")
[ "$migrate_state" = "exited 0" ] || die "migrate: $migrate_state, expected exited 0"
# shellcheck disable=SC1090
. "$compose_env"
applied=$(podman exec "$(container mariadb)" mariadb -u"$MARIADB_USER" -p"$MARIADB_PASSWORD" -N -B \
    -e 'SELECT COUNT(*) FROM _sqlx_migrations WHERE success' "$MARIADB_DATABASE")
migrations=$(find migrations/mysql -name '*.sql' | wc -l)
[ "$applied" = "$migrations" ] || die "$applied migrations applied, migrations/mysql has $migrations"
podman logs "$migrate_ids" 2>&1 | grep -q 'migrations applied' || die "migrate did not log 'migrations applied'"
log "migrate ran once, exited 0 and applied all $applied migrations"

proxy=http://127.0.0.1:$http_port
post_id=$(checks write-read "$proxy" 10)
# graphql-ws through nginx's upgrade: sockets on both replicas hear a comment written through either (Redis).
checks subscribe "$proxy" "$post_id" 4
checks prometheus "http://127.0.0.1:$prometheus_port" board board-1:8080,board-2:8080
checks failover "$proxy" "$post_id" -- docker-compose -p "$project" --env-file "$compose_env" \
    -f docker-compose.yml stop -t 20 board-1
state_1=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(container board-1)")
[ "$state_1" = "exited 0" ] || die "board-1 after stop: $state_1, expected exited 0 (a clean shutdown)"
compose start board-1 >/dev/null 2>&1
wait_healthy "$(container board-1)" 120
# The proxy sends board-1 its share again: its own count of /graphql requests grows.
graphql_count() {
    podman exec "$(container board-1)" curl -fsS http://127.0.0.1:8080/metrics \
        | awk '/^http_server_request_duration_seconds_count/ && /\/graphql/ { n += $NF } END { print n + 0 }'
}
# nginx keeps a replica that failed max_fails times out of rotation for fail_timeout (10 s): allow 40 s.
served_before=$(graphql_count)
served_after=$served_before
for _ in $(seq 40); do
    checks write-read "$proxy" 3 >/dev/null 2>&1 || die "a write through the proxy failed after board-1 came back"
    served_after=$(graphql_count)
    [ "$served_after" -gt "$served_before" ] && break
    sleep 1
done
[ "$served_after" -gt "$served_before" ] \
    || die "board-1 is healthy again but the proxy sends it nothing ($served_before → $served_after requests)"
log "board-1 is back and the proxy sends it requests again"
podman logs "$(container proxy)" 2>&1 | grep 'stand-in nginx: upstream' >&2 || true

begin "compose down"
logged compose-stop compose stop -t 30
unclean=""
for service in mariadb redis board-1 board-2 proxy prometheus; do
    exit_state=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(container "$service")")
    [ "$exit_state" = "exited 0" ] || unclean+=" $service($exit_state)"
done
[ -z "$unclean" ] || die "not stopped cleanly:$unclean"
logged compose-down compose down -v --remove-orphans
left=$(podman ps -aq --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || die "containers left after down: $left"
left=$(podman volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || die "volumes left after down: $left"
left=$(podman network ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || die "networks left after down: $left"
log "every service exited 0; no container, volume or network left"
