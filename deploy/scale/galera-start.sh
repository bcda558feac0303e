#!/bin/bash
# galera-1's entrypoint in docker-compose.scale.yml: the image's own (docker-entrypoint.sh), with
# --wsrep-new-cluster added while this node may bootstrap the cluster: on its first start (no Galera state
# yet), or when it was the last node to leave (Galera wrote safe_to_bootstrap: 1). Otherwise the others are
# running, or one of them left last and must bootstrap instead, so this node joins like the others.
set -euo pipefail
state=/var/lib/mysql/grastate.dat
if [ ! -e "$state" ] || grep -q '^safe_to_bootstrap: *1' "$state"; then
    echo "galera-start: bootstrapping a new cluster from this node" >&2
    set -- "$@" --wsrep-new-cluster
else
    echo "galera-start: joining the cluster" >&2
fi
exec docker-entrypoint.sh "$@"
