//! How the pieces find each other: proxy → replicas, Prometheus → replicas, replicas → Logstash.

use super::*;

/// The port a replica listens on: its `BOARD_BIND`, else the Dockerfile's.
pub(super) fn listen_port(service: &Yaml) -> u16 {
    let bind = environment(service)
        .get("BOARD_BIND")
        .cloned()
        .flatten()
        .or_else(|| dockerfile_env().get("BOARD_BIND").cloned())
        .expect("BOARD_BIND is set in the service or the Dockerfile");
    port_of(&bind)
}

#[test]
pub(super) fn the_proxy_balances_over_the_replicas_on_their_port() {
    let compose = compose();
    let replicas = board_replicas(&compose);
    let nginx = read(NGINX);
    let mut upstream = BTreeSet::new();
    let mut in_upstream = false;
    for line in nginx.lines().map(str::trim) {
        if line.starts_with("upstream ") {
            in_upstream = true;
            continue;
        }
        if line.starts_with('}') {
            in_upstream = false;
        }
        let Some(rest) = line.strip_prefix("server ").filter(|_| in_upstream) else {
            continue;
        };
        let address = rest.split_whitespace().next().unwrap_or_default();
        let address = address.trim_end_matches(';');
        let (host, _) = address.rsplit_once(':').unwrap_or((address, "80"));
        let service = replicas
            .get(host)
            .unwrap_or_else(|| panic!("{NGINX} sends traffic to {host}, which is not a replica"));
        assert_eq!(
            port_of(address),
            listen_port(service),
            "{NGINX}: {address} is not the port {host} listens on"
        );
        upstream.insert(host.to_owned());
    }
    let all: BTreeSet<String> = replicas.keys().cloned().collect();
    assert_eq!(upstream, all, "{NGINX} should balance over every replica");
    assert!(
        nginx.contains("proxy_set_header X-Forwarded-For $remote_addr;"),
        "{NGINX} must overwrite X-Forwarded-For: board trusts its left-most address"
    );
    assert!(
        !nginx.contains("$proxy_add_x_forwarded_for"),
        "{NGINX} must not append to a client-sent X-Forwarded-For"
    );
    let proxy_mounts_it = services(&compose).values().any(|s| {
        s["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(Yaml::as_str)
            .any(|v| v.starts_with(&format!("./{NGINX}:")))
    });
    assert!(proxy_mounts_it, "no service mounts {NGINX}");
    for (name, service) in &replicas {
        let check = serde_norway::to_string(&service["healthcheck"]).unwrap();
        assert!(
            check.contains(&format!(":{}/healthz", listen_port(service))),
            "{name}: its healthcheck should ask /healthz on the port it listens on: {check}"
        );
    }
}

#[test]
pub(super) fn prometheus_scrapes_every_replica_on_its_port() {
    let compose = compose();
    let replicas = board_replicas(&compose);
    let prometheus: Yaml =
        serde_norway::from_str(&read(PROMETHEUS)).unwrap_or_else(|e| panic!("{PROMETHEUS}: {e}"));
    let mut scraped = BTreeSet::new();
    for job in prometheus["scrape_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for config in job["static_configs"].as_sequence().into_iter().flatten() {
            for target in config["targets"].as_sequence().into_iter().flatten() {
                let target = target.as_str().expect("targets are strings");
                let (host, _) = target.rsplit_once(':').expect("targets are host:port");
                if let Some(service) = replicas.get(host) {
                    assert_eq!(
                        port_of(target),
                        listen_port(service),
                        "{PROMETHEUS}: {target} is not the port {host} listens on"
                    );
                    scraped.insert(host.to_owned());
                }
            }
        }
    }
    let all: BTreeSet<String> = replicas.keys().cloned().collect();
    assert_eq!(scraped, all, "{PROMETHEUS} should scrape every replica");
    let services = services(&compose);
    let prometheus_mounts: Vec<String> = services
        .values()
        .flat_map(|s| s["volumes"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .filter(|v| v.starts_with("./observability/"))
        .collect();
    for rule_file in prometheus["rule_files"].as_sequence().into_iter().flatten() {
        let rule_file = rule_file.as_str().expect("rule files are paths");
        assert!(
            prometheus_mounts
                .iter()
                .any(|m| m.contains(&format!(":/etc/prometheus/{rule_file}"))),
            "{PROMETHEUS} loads {rule_file}, which is not mounted beside it in /etc/prometheus"
        );
    }
}

#[test]
pub(super) fn replicas_ship_logs_to_the_logstash_input() {
    let compose = compose();
    let services = services(&compose);
    let pipeline = read(LOGSTASH_PIPELINE);
    let input_port: u16 = pipeline
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("port =>"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{LOGSTASH_PIPELINE} has no `port => N` input"));
    for (name, service) in board_replicas(&compose) {
        let Some(Some(address)) = environment(&service).get("BOARD_LOGSTASH_ADDR").cloned() else {
            continue;
        };
        let (host, _) = address.rsplit_once(':').expect("host:port");
        assert!(
            services.contains_key(host),
            "{name} ships logs to {host}, which is not a service"
        );
        assert_eq!(
            port_of(&address),
            input_port,
            "{name} ships logs to {address}, but {LOGSTASH_PIPELINE} listens on {input_port}"
        );
        assert!(
            !depends_on(&service).iter().any(|(d, _)| d == host),
            "{name} should not wait for {host}: shipping logs is best effort"
        );
    }
}
