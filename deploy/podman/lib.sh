# shellcheck shell=bash
# Shared by deploy/verify.sh and deploy/verify-scale.sh (sourced, not run): settings, one run at a time,
# timing, logs, free ports, the healthcheck ticker, stand-in images and podman's Docker API. The caller sets
# script (its name in messages) before sourcing, and project (the compose project) before start_ticker.
# Environment: BOARD_VERIFY_STATE, where logs and the lock live (default /var/tmp/board-verify).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${BOARD_VERIFY_STATE:-/var/tmp/board-verify}
mkdir -p "$state/logs"
logs=$state/logs

# podman reads only this file: runc, cgroupfs, no default rlimits (see the file). The machine's own
# containers.conf is left alone.
export CONTAINERS_CONF=$repo/deploy/podman/containers.conf

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "${script:-verify}" "$*" >&2; exit 1; }

# One run at a time on a machine, of either script: the base images, the stand-ins and the host ports are
# shared. Then root and the tools ("$@").
take_lock_and_check_tools() {
    exec 9>"$state/lock"
    # A few seconds' grace: a run that just ended may leave a child holding the lock for a moment.
    flock -w 10 9 || die "another deploy/verify*.sh is running ($state/lock)"
    [ "$(id -u)" = 0 ] || die "run as root (rootful podman)"
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
    done
}

# ---------------------------------------------------------------------------------------------------------------
# Timing: each step's seconds, printed at the end however the script ends.
# ---------------------------------------------------------------------------------------------------------------
step_names=()
step_secs=()
step_started=0
current_step=""
begin() {
    finish_step
    current_step=$1
    step_started=$SECONDS
    log "$1"
}
finish_step() {
    if [ -n "$current_step" ]; then
        step_names+=("$current_step")
        step_secs+=($((SECONDS - step_started)))
        current_step=""
    fi
}
summary() {
    finish_step
    local i
    echo "---- $script: seconds per step"
    for i in "${!step_names[@]}"; do
        printf '%6d  %s\n' "${step_secs[$i]}" "${step_names[$i]}"
    done
    printf '%6d  total\n' "$SECONDS"
}

# Runs "$@" with its output in $logs/$1.log (first word of the label), shown when it fails.
logged() {
    local name=$1; shift
    if ! "$@" >"$logs/$name.log" 2>&1; then
        tail -n 60 "$logs/$name.log" >&2
        die "$name failed (full log: $logs/$name.log)"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

checks() { python3 "$repo/deploy/podman/checks.py" "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# Healthchecks. podman runs them from systemd timers; with no systemd (containers, CI sandboxes) nothing
# runs them, so a ticker does what the timers would: `podman healthcheck run` on every running container of
# ours every 3 s. podman still applies each check's retries and start period.
# ---------------------------------------------------------------------------------------------------------------
# podman also complains on stderr, at each start and stop of a container with a healthcheck, that it cannot
# reach systemd; those lines go to $logs/podman.log.
ticker_pid=""
start_ticker() {
    (
        exec 9>&- # the lock stays with the script, not with a sleep that outlives it
        while sleep 3; do
            for id in $(podman ps -q --filter label=board-verify=1 2>/dev/null) \
                      $(podman ps -q --filter label=com.docker.compose.project="${project:-}" 2>/dev/null); do
                podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
        done
    ) &
    ticker_pid=$!
}
stop_ticker() {
    [ -n "$ticker_pid" ] && kill "$ticker_pid" 2>/dev/null
    ticker_pid=""
}

health_of() { podman inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null; }

wait_healthy() {
    local container=$1 timeout=$2 i
    for ((i = 0; i < timeout; i++)); do
        [ "$(health_of "$container")" = healthy ] && return 0
        sleep 1
    done
    podman logs --tail 40 "$container" >&2 || true
    die "$container is not healthy after $timeout s (status: $(health_of "$container"))"
}

# ---------------------------------------------------------------------------------------------------------------
# Stand-in images (deploy/podman/standins/), built under the official names: standin NAME TAG...
# ---------------------------------------------------------------------------------------------------------------
standin() {
    local name=$1 tag
    shift
    logged "standin-$name" podman build --network=host --pull=never --format docker \
        -f "$repo/deploy/podman/standins/$name.Containerfile" -t "$1" "$repo/deploy/podman/standins"
    for tag in "${@:2}"; do
        podman tag "$1" "$tag"
    done
}

# ---------------------------------------------------------------------------------------------------------------
# podman's Docker API for docker-compose, on a socket in $state; stop_api ends it.
# ---------------------------------------------------------------------------------------------------------------
api_pid=""
start_api() {
    local sock=$state/podman.sock
    rm -f "$sock"
    podman system service --time=0 "unix://$sock" >"$logs/podman-service.log" 2>&1 9>&- &
    api_pid=$!
    export DOCKER_HOST=unix://$sock
    for _ in $(seq 30); do [ -S "$sock" ] && return 0; sleep 1; done
    die "podman system service did not open $sock"
}
stop_api() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
    api_pid=""
}
