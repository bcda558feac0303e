#!/bin/sh
# Copy /etc/nginx/conf.d/*.conf to /etc/nginx/standin.d/ without what nginx 1.22 does not know in an upstream
# block (the `resolve` parameter of a server and the `resolver` directive, both new in open-source nginx
# 1.27.3), and print what changed; then follow the replicas' addresses as `resolve` would (below).
set -eu
for conf in /etc/nginx/conf.d/*.conf; do
    [ -e "$conf" ] || continue
    out=/etc/nginx/standin.d/$(basename "$conf")
    sed -E \
        -e 's/^([[:space:]]*server[[:space:]].*)[[:space:]]resolve([[:space:];])/\1\2/' \
        -e '/^[[:space:]]*resolver[[:space:]]/d' \
        "$conf" > "$out"
    if ! cmp -s "$conf" "$out"; then
        echo "stand-in nginx: $conf adapted to $(nginx -v 2>&1 | sed 's|.*: ||'):" >&2
        diff "$conf" "$out" >&2 || true
    fi
done

# What `resolve` does, done from outside: every 5 s, look the upstream servers' names up again and reload
# nginx when an address changed (a replica recreated or restarted on a new address). A reload that fails,
# say while a replica's name resolves to nothing, keeps the running configuration.
upstream_hosts=$(sed -n -E 's/^[[:space:]]*server[[:space:]]+([A-Za-z0-9][A-Za-z0-9._-]*)(:[0-9]+)?[[:space:];].*/\1/p' \
    /etc/nginx/standin.d/*.conf 2>/dev/null | sort -u)
addresses() {
    for host in $upstream_hosts; do
        printf '%s=%s\n' "$host" "$(getent hosts "$host" | awk '{ print $1 }' | sort | tr '\n' ' ')"
    done
}
if [ -n "$upstream_hosts" ] && [ "$1" = nginx ]; then
    (
        last=$(addresses)
        while sleep 5; do
            now=$(addresses)
            if [ "$now" != "$last" ]; then
                echo "stand-in nginx: upstream addresses changed, reloading:" $now >&2
                nginx -s reload >&2 || true
                last=$now
            fi
        done
    ) &
fi
exec "$@"
