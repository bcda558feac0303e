#!/bin/bash
# The two checks of the official image's healthcheck.sh that docker-compose.yml uses:
#   --connect             the server accepts a TCP connection and a login
#   --innodb_initialized  InnoDB is up
set -euo pipefail
query() {
    mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf --protocol=tcp -h127.0.0.1 -P3306 \
        -N -B -e "$1"
}
[ $# -gt 0 ] || set -- --connect
for check in "$@"; do
    case "$check" in
        --connect) query 'SELECT 1' >/dev/null ;;
        --innodb_initialized)
            [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB' AND SUPPORT IN ('YES', 'DEFAULT')")" = 1 ] ;;
        *) echo "stand-in healthcheck.sh: unknown check $check" >&2; exit 2 ;;
    esac
done
