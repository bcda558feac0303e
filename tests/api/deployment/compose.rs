//! `docker-compose.yml`: healthchecks, dependencies, the configuration the server knows, replicas, bind
//! mounts, published ports, and `.env.example`.

use super::*;

#[test]
pub(super) fn every_service_has_a_healthcheck_or_a_stated_reason() {
    let compose = compose();
    let services = services(&compose);
    let exemptions = exemptions(&compose);
    let text = read(COMPOSE);
    for (name, reason) in &exemptions {
        assert!(
            services.contains_key(name),
            "x-healthcheck-exemptions names {name}, which is not a service"
        );
        assert!(
            !reason.trim().is_empty(),
            "the exemption of {name} gives no reason"
        );
    }
    for (name, service) in &services {
        if has_healthcheck(service) {
            assert!(
                !exemptions.contains_key(name),
                "{name} has a healthcheck and is also listed in x-healthcheck-exemptions"
            );
        } else {
            assert!(
                exemptions.contains_key(name),
                "{name} has no healthcheck and no entry in x-healthcheck-exemptions"
            );
            assert!(
                service_block(&text, name).contains("# no healthcheck:"),
                "{name} has no healthcheck: say why next to it (`# no healthcheck: <reason>`)"
            );
        }
    }
}

/// The lines of one service in the compose file's text (for comments, which YAML parsers drop).
pub(super) fn service_block<'a>(text: &'a str, name: &str) -> &'a str {
    let services = text
        .find("\nservices:")
        .unwrap_or_else(|| panic!("no `services:` in {COMPOSE}"));
    let header = format!("\n  {name}:");
    let start = text[services..]
        .find(&header)
        .unwrap_or_else(|| panic!("service {name} not found in {COMPOSE}"))
        + services
        + 1;
    let rest = &text[start..];
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let line = &rest[i..];
            let indent = line.len() - line.trim_start_matches(' ').len();
            let body = line.trim_start_matches(' ');
            indent <= 2 && !body.is_empty() && !body.starts_with('#') && !body.starts_with('\n')
        })
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
pub(super) fn dependencies_name_existing_services_with_conditions_they_can_meet() {
    let compose = compose();
    let services = services(&compose);
    let mut graph: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, service) in &services {
        for (dependency, condition) in depends_on(service) {
            let target = services.get(&dependency).unwrap_or_else(|| {
                panic!("{name} depends on {dependency}, which is not a service")
            });
            match condition.as_str() {
                "service_started" => {}
                "service_healthy" => assert!(
                    has_healthcheck(target),
                    "{name} waits for {dependency} to be healthy, but {dependency} has no healthcheck"
                ),
                "service_completed_successfully" => {
                    let restart = target["restart"].as_str().unwrap_or("no");
                    assert_eq!(
                        restart, "no",
                        "{name} waits for {dependency} to complete, so {dependency} must not restart"
                    );
                }
                other => panic!("{name} → {dependency}: unknown condition {other}"),
            }
            graph.entry(name).or_default().push(dependency);
        }
    }
    // No cycles: Compose could start none of them.
    pub(super) fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&str, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(node) {
            return;
        }
        assert!(
            !path.contains(&node),
            "dependency cycle: {} → {node}",
            path.join(" → ")
        );
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for name in services.keys() {
        visit(name, &graph, &mut Vec::new(), &mut done);
    }
}

/// Every key of the real configuration (`RawConfig`, what `Config::load` reads), as an environment variable, plus the ones read outside `BOARD_<FIELD>`.
pub(super) fn known_environment() -> BTreeSet<String> {
    let config = serde_json::to_value(board::config::RawConfig::default())
        .expect("the default configuration serializes");
    let fields = config
        .as_object()
        .expect("the configuration serializes to an object");
    let mut known: BTreeSet<String> = fields
        .keys()
        .map(|field| format!("BOARD_{}", field.to_uppercase()))
        .collect();
    for extra in ["DATABASE_URL", "REDIS_URL", "BOARD_CONFIG", "RUST_LOG"] {
        known.insert(extra.to_owned());
    }
    known
}

#[test]
pub(super) fn the_configuration_keys_are_derived_from_the_real_config() {
    let known = known_environment();
    // Unset optional fields still serialize (as null), so they are known too.
    for key in [
        "BOARD_JWT_SECRET",
        "BOARD_CLIENT_IP_HEADER",
        "BOARD_LOGSTASH_ADDR",
        "BOARD_BIND",
    ] {
        assert!(known.contains(key), "{key} missing from {known:?}");
    }
}

#[test]
pub(super) fn board_services_are_given_only_configuration_the_server_knows() {
    let compose = compose();
    let known = known_environment();
    let board = board_services(&compose);
    assert!(
        board.len() >= 2,
        "expected the board image in several services, found {:?}",
        board.keys()
    );
    for (name, service) in &board {
        assert!(
            service["env_file"].is_null(),
            "{name}: list its environment explicitly (an env_file hides the keys from this test)"
        );
        for key in environment(service).keys() {
            assert!(
                known.contains(key),
                "{name} sets {key}, which board does not read; known keys: {known:?}"
            );
        }
    }
}

#[test]
pub(super) fn replicas_share_the_database_cache_and_key_and_leave_migrating_to_the_job() {
    let compose = compose();
    let replicas = board_replicas(&compose);
    assert!(
        replicas.len() >= 2,
        "expected at least two replicas, found {:?}",
        replicas.keys()
    );
    let has_migrate_job = board_services(&compose).values().any(|s| {
        s["command"].as_str() == Some("migrate")
            || s["command"]
                .as_sequence()
                .and_then(|c| c.first())
                .and_then(Yaml::as_str)
                == Some("migrate")
    });
    let mut shared = BTreeSet::new();
    for (name, service) in &replicas {
        let env = environment(service);
        let get = |key: &str| env.get(key).cloned().flatten();
        let database = get("DATABASE_URL").unwrap_or_default();
        assert!(
            database.starts_with("mysql:") || database.starts_with("mariadb:"),
            "{name}: replicas need a shared MariaDB, got DATABASE_URL={database:?}"
        );
        assert!(
            get("REDIS_URL").is_some(),
            "{name}: replicas need the shared Redis cache"
        );
        assert!(
            get("BOARD_JWT_SECRET").is_some(),
            "{name}: board refuses MariaDB without BOARD_JWT_SECRET"
        );
        if has_migrate_job {
            assert_eq!(
                get("BOARD_AUTO_MIGRATE").as_deref(),
                Some("false"),
                "{name}: a migrate job runs the migrations; replicas should not"
            );
        }
        shared.insert((
            database,
            get("REDIS_URL"),
            get("BOARD_JWT_SECRET"),
            get("BOARD_CACHE_PREFIX"),
        ));
    }
    assert_eq!(
        shared.len(),
        1,
        "replicas disagree on database, cache or JWT key: {shared:?}"
    );
}

#[test]
pub(super) fn bind_mounts_and_build_contexts_exist() {
    let compose = compose();
    let declared_volumes: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (name, service) in services(&compose) {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let (source, kind) = match volume {
                Yaml::String(short) => {
                    let source = short.split(':').next().unwrap_or_default().to_owned();
                    let kind = if source.starts_with('.') || source.starts_with('/') {
                        "bind"
                    } else {
                        "volume"
                    };
                    (source, kind.to_owned())
                }
                Yaml::Mapping(long) => (
                    long.get("source")
                        .and_then(Yaml::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    long.get("type")
                        .and_then(Yaml::as_str)
                        .unwrap_or("volume")
                        .to_owned(),
                ),
                other => panic!("{name}: unexpected volume {other:?}"),
            };
            if kind == "bind" {
                if let Some(relative) = source.strip_prefix("./") {
                    assert!(
                        root().join(relative).exists(),
                        "{name} mounts {source}, which does not exist in the repository"
                    );
                }
            } else if kind == "volume" && !source.is_empty() {
                assert!(
                    declared_volumes.contains(&source),
                    "{name} uses volume {source}, not declared under the top-level `volumes`"
                );
            }
        }
        let (context, dockerfile) = match &service["build"] {
            Yaml::String(context) => (context.clone(), "Dockerfile".to_owned()),
            Yaml::Mapping(build) => (
                build
                    .get("context")
                    .and_then(Yaml::as_str)
                    .unwrap_or(".")
                    .to_owned(),
                build
                    .get("dockerfile")
                    .and_then(Yaml::as_str)
                    .unwrap_or("Dockerfile")
                    .to_owned(),
            ),
            _ => continue,
        };
        let dockerfile = root().join(&context).join(dockerfile);
        assert!(
            dockerfile.is_file(),
            "{name} builds from {}, which does not exist",
            dockerfile.display()
        );
    }
}

/// A Compose string with each `${NAME:-default}` / `${NAME-default}` replaced by its default, as Compose
/// reads it when the variable is not set; other interpolations are left as they are.
pub(super) fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in {text:?}"));
        let inner = &after[..end];
        let name_end = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        match inner[name_end..]
            .strip_prefix(":-")
            .or_else(|| inner[name_end..].strip_prefix('-'))
        {
            Some(default) => out.push_str(default),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `(host_ip, host_port, protocol)` of each published port of a service, with variables at their defaults.
pub(super) fn published_ports(name: &str, service: &Yaml) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for port in service["ports"].as_sequence().into_iter().flatten() {
        match port {
            Yaml::Mapping(long) => {
                let Some(published) = long.get("published").and_then(scalar) else {
                    continue;
                };
                let published = with_defaults(&published);
                let ip = long
                    .get("host_ip")
                    .and_then(Yaml::as_str)
                    .unwrap_or("0.0.0.0");
                let protocol = long.get("protocol").and_then(Yaml::as_str).unwrap_or("tcp");
                out.push((ip.to_owned(), published, protocol.to_owned()));
            }
            other => {
                let short = scalar(other).unwrap_or_else(|| panic!("{name}: bad port {other:?}"));
                let short = with_defaults(&short);
                let (spec, protocol) = short.split_once('/').unwrap_or((short.as_str(), "tcp"));
                let parts: Vec<&str> = spec.split(':').collect();
                let (ip, published) = match parts.as_slice() {
                    [_container] => continue, // an ephemeral host port
                    [published, _container] => ("0.0.0.0", *published),
                    [ip, published, _container] => (*ip, *published),
                    _ => panic!("{name}: cannot read port {short:?}"),
                };
                if published.is_empty() {
                    continue;
                }
                out.push((ip.to_owned(), published.to_owned(), protocol.to_owned()));
            }
        }
    }
    out
}

#[test]
pub(super) fn published_host_ports_do_not_collide() {
    let compose = compose();
    // Whatever address they are bound to: two services on one host port cannot both start on 0.0.0.0, and
    // moving one of them there later should not be a surprise.
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (name, service) in services(&compose) {
        for (_ip, port, protocol) in published_ports(&name, &service) {
            assert!(
                port.parse::<u16>().is_ok_and(|p| p > 0),
                "{name} publishes host port {port:?}: not a port number (or a variable with one as its default)"
            );
            if let Some(other) = seen.insert((port.clone(), protocol.clone()), name.clone()) {
                panic!("{name} and {other} both publish host port {port}/{protocol}");
            }
        }
    }
    assert!(!seen.is_empty(), "nothing is published at all");
}

#[test]
pub(super) fn env_example_defines_every_variable_and_no_secret() {
    let compose = compose();
    let mut used = BTreeSet::new();
    variables_used(&compose, &mut used);
    let example = env_example();
    for var in &used {
        assert!(
            example.contains_key(var),
            "{COMPOSE} uses ${{{var}}}, which {ENV_EXAMPLE} does not define"
        );
    }
    for (key, value) in &example {
        if key.contains("SECRET") || key.contains("PASSWORD") {
            assert!(
                value.is_empty(),
                "{ENV_EXAMPLE} must leave {key} empty (a placeholder), not ship a value"
            );
        }
    }
    assert!(
        read(ENV_EXAMPLE).contains("openssl rand -hex 32"),
        "{ENV_EXAMPLE} should say how to generate BOARD_JWT_SECRET"
    );
}

#[test]
pub(super) fn port_defaults_are_read_correctly() {
    assert_eq!(
        with_defaults("127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"),
        "127.0.0.1:9090:9090"
    );
    assert_eq!(with_defaults("${A-80}:${B}:8080"), "80:${B}:8080");
    assert_eq!(with_defaults("8080:8080"), "8080:8080");
    let service: Yaml =
        serde_norway::from_str("ports: ['${P:-8080}:80', '127.0.0.1:${Q:-9090}:9090/udp', '53']")
            .unwrap();
    assert_eq!(
        published_ports("s", &service),
        vec![
            ("0.0.0.0".to_owned(), "8080".to_owned(), "tcp".to_owned()),
            ("127.0.0.1".to_owned(), "9090".to_owned(), "udp".to_owned()),
        ]
    );
}

#[test]
pub(super) fn env_example_interpolation_is_read_correctly() {
    let mut vars = BTreeSet::new();
    interpolated(
        "mysql://${A}:${B:-x}@h/${C:?set C} $$NOT $D ${E-y}",
        &mut vars,
    );
    let expected: BTreeSet<String> = ["A", "B", "C", "D", "E"].map(String::from).into();
    assert_eq!(vars, expected);
}
