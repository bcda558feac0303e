#!/bin/bash
# First start: create the system tables, set the root password, and create MARIADB_DATABASE and
# MARIADB_USER (with all rights on it), mysql@localhost (unix socket) with MARIADB_MYSQL_LOCALHOST_GRANTS when
# MARIADB_MYSQL_LOCALHOST_USER is set, then run /docker-entrypoint-initdb.d/*.sql and *.sh, as the official
# image does. Its temporary server runs with wsrep off, so a Galera node's set-up stays its own (a joiner's is
# replaced by its donor's data). Then run the server as `mysql`, with the command's options.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ]; then
    exec "$@"
fi
shift

datadir=/var/lib/mysql
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"

sql_string() { printf "'%s'" "${1//\'/\'\'}"; }

if [ ! -d "$datadir/mysql" ]; then
    : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is not set}"
    echo "stand-in mariadb: initialising $datadir"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal >/dev/null
    socket=/run/mysqld/init.sock
    mariadbd --user=mysql --datadir="$datadir" "$@" --skip-networking --socket="$socket" --wsrep-on=OFF &
    pid=$!
    for _ in $(seq 60); do
        mariadb --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 1
    done
    health_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    {
        # mariadb-install-db's passwordless root@127.0.0.1, root@::1 and root@<hostname> go, as in the image.
        echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
        echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@''', @@hostname, '''');"
        echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$health_password';"
        echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$health_password';"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$MARIADB_ROOT_PASSWORD");"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$MARIADB_ROOT_PASSWORD");"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "${MARIADB_MYSQL_LOCALHOST_USER:-}" ]; then
            echo "CREATE USER 'mysql'@'localhost' IDENTIFIED VIA unix_socket;"
            if [ -n "${MARIADB_MYSQL_LOCALHOST_GRANTS:-}" ]; then
                echo "GRANT $MARIADB_MYSQL_LOCALHOST_GRANTS ON *.* TO 'mysql'@'localhost';"
            fi
        fi
        if [ -n "${MARIADB_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
        fi
        if [ -n "${MARIADB_USER:-}" ]; then
            echo "CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "${MARIADB_PASSWORD:-}");"
            if [ -n "${MARIADB_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO $(sql_string "$MARIADB_USER")@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket --socket="$socket" -uroot
    shopt -s nullglob
    for init in /docker-entrypoint-initdb.d/*; do
        case "$init" in
            *.sql)
                echo "stand-in mariadb: running $init"
                mariadb --protocol=socket --socket="$socket" -uroot -p"$MARIADB_ROOT_PASSWORD" \
                    ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} <"$init" ;;
            *.sh)
                echo "stand-in mariadb: running $init"
                bash "$init" ;;
            *) echo "stand-in mariadb: ignoring $init" ;;
        esac
    done
    printf '[mariadb-client]\nuser=healthcheck\npassword=%s\n' "$health_password" > "$datadir/.my-healthcheck.cnf"
    chown mysql:mysql "$datadir/.my-healthcheck.cnf"
    chmod 600 "$datadir/.my-healthcheck.cnf"
    kill "$pid"
    wait "$pid" || true
    echo "stand-in mariadb: initialised"
fi

exec mariadbd --user=mysql --datadir="$datadir" "$@"
