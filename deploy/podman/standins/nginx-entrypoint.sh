#!/bin/sh
# Copy /etc/nginx/conf.d/*.conf to /etc/nginx/standin.d/ without what nginx 1.22 does not know in an upstream
# block (the `resolve` parameter of a server and the `resolver` directive, both new in open-source nginx
# 1.27.3), and print what changed.
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
exec "$@"
