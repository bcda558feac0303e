#!/bin/sh
# As the official image's entrypoint: options alone, or a configuration file, run redis-server with them;
# redis-server runs as the redis user, owning /data; protected mode is off (the compose network is the
# boundary) unless a configuration file given first sets it. Any other command (redis-cli, sh -c …) runs as
# it is.
set -eu
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ]; then
    config=""
    if [ -f "${2:-}" ]; then
        config=$2
    fi
    if [ -z "$config" ] || ! grep -q '^protected-mode' "$config"; then
        shift
        if [ -n "$config" ]; then
            shift
            set -- "$config" --protected-mode no "$@"
        else
            set -- --protected-mode no "$@"
        fi
        set -- redis-server "$@"
    fi
fi
exec "$@"
