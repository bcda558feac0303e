#!/bin/sh
# Copy /etc/nginx/conf.d/*.conf to /etc/nginx/standin.d/, dropping the `resolve` parameter of upstream
# servers, which nginx 1.22 does not know; say what changed.
set -eu
for conf in /etc/nginx/conf.d/*.conf; do
    [ -e "$conf" ] || continue
    out=/etc/nginx/standin.d/$(basename "$conf")
    sed -E 's/^([[:space:]]*server[[:space:]].*)[[:space:]]resolve([[:space:];])/\1\2/' "$conf" > "$out"
    if ! cmp -s "$conf" "$out"; then
        echo "stand-in nginx: $conf without 'resolve' (nginx $(nginx -v 2>&1 | sed 's|.*/||')):" >&2
        diff "$conf" "$out" >&2 || true
    fi
done
exec "$@"
