-- HAProxy's health check (option mysql-check in deploy/scale/haproxy.cfg) logs in as this account, which can
-- do nothing but log in. docker-compose.scale.yml runs this once, when galera-1 initialises the cluster's
-- data; the other nodes receive it with the data.
CREATE USER 'haproxy_check'@'%';
