#!/bin/bash
# The official image's healthcheck.sh, for the options the compose files use, applied in order:
#   --su-mysql            run the rest as the unix user mysql (with --no-defaults: mysql@localhost by socket)
#   --no-defaults         log in without the image's healthcheck account: the unix user, through the socket
#   --connect             the server accepts a login (by TCP with the healthcheck account, else by socket)
#   --innodb_initialized  InnoDB is up
#   --galera_online       the node is a Synced member of a Galera cluster (wsrep_local_state 4)
set -euo pipefail
defaults=(--defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf)
query() {
    if [ ${#defaults[@]} -gt 0 ]; then
        mariadb "${defaults[@]}" --protocol=tcp -h127.0.0.1 -P3306 -N -B -e "$1"
    else
        mariadb --no-defaults --protocol=socket --socket=/run/mysqld/mysqld.sock --user="$(id -un)" -N -B -e "$1"
    fi
}
status() { query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '$1'"; }
[ $# -gt 0 ] || set -- --connect
while [ $# -gt 0 ]; do
    check=$1
    shift
    case "$check" in
        --su-mysql) exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@" ;;
        --no-defaults) defaults=() ;;
        --connect) [ "$(query 'SELECT @@skip_networking')" = 0 ] ;;
        --innodb_initialized)
            [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB' AND SUPPORT IN ('YES', 'DEFAULT')")" = 1 ] ;;
        --galera_online) [ "$(status WSREP_LOCAL_STATE)" = 4 ] ;;
        *) echo "stand-in healthcheck.sh: unknown check $check" >&2; exit 2 ;;
    esac
done
