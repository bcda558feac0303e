//! The deployment files hold together without starting anything: `docker-compose.yml` (healthchecks,
//! dependencies, environment keys the server knows, bind mounts, published ports, `.env.example`), the
//! `Dockerfile` (copies only what exists, and everything the build embeds; a healthcheck; a non-root user),
//! and the names that `deploy/nginx.conf`, `observability/prometheus.yml` and the Logstash pipeline use to
//! reach the replicas and each other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value as Yaml;

const COMPOSE: &str = "docker-compose.yml";
const DOCKERFILE: &str = "Dockerfile";
const ENV_EXAMPLE: &str = ".env.example";
const NGINX: &str = "deploy/nginx.conf";
const PROMETHEUS: &str = "observability/prometheus.yml";
const LOGSTASH_PIPELINE: &str = "observability/logstash/pipeline.conf";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `docker-compose.yml`, with anchors resolved and `<<` merge keys applied, as Compose sees it.
fn compose() -> Yaml {
    let mut value: Yaml =
        serde_norway::from_str(&read(COMPOSE)).unwrap_or_else(|e| panic!("{COMPOSE}: {e}"));
    value
        .apply_merge()
        .unwrap_or_else(|e| panic!("{COMPOSE}: {e}"));
    value
}

fn services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has a `services` mapping")
        .iter()
        .map(|(name, service)| {
            let name = name.as_str().expect("service names are strings").to_owned();
            (name, service.clone())
        })
        .collect()
}

/// A scalar as Compose reads it (`"false"`, `false` and `8080` all become strings).
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A service's `environment`, in either of Compose's forms (mapping, or a list of `KEY=value`).
fn environment(service: &Yaml) -> BTreeMap<String, Option<String>> {
    match &service["environment"] {
        Yaml::Null => BTreeMap::new(),
        Yaml::Mapping(map) => map
            .iter()
            .map(|(k, v)| (scalar(k).expect("environment keys are scalars"), scalar(v)))
            .collect(),
        Yaml::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = item.as_str().expect("environment entries are strings");
                match item.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (item.to_owned(), None),
                }
            })
            .collect(),
        other => panic!("unexpected environment: {other:?}"),
    }
}

/// Whether a service has a healthcheck of its own that is switched on.
fn has_healthcheck(service: &Yaml) -> bool {
    let Some(check) = service["healthcheck"].as_mapping() else {
        return false;
    };
    if check.get("disable").and_then(Yaml::as_bool) == Some(true) {
        return false;
    }
    match check.get("test") {
        Some(Yaml::Sequence(test)) => {
            !test.is_empty() && test.first().and_then(Yaml::as_str) != Some("NONE")
        }
        Some(Yaml::String(test)) => !test.trim().is_empty(),
        _ => false,
    }
}

fn exemptions(compose: &Yaml) -> BTreeMap<String, String> {
    match &compose["x-healthcheck-exemptions"] {
        Yaml::Null => BTreeMap::new(),
        Yaml::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let service = k.as_str().expect("exempted service names are strings");
                let reason = v
                    .as_str()
                    .unwrap_or_else(|| panic!("the exemption of {service} gives a reason"));
                (service.to_owned(), reason.to_owned())
            })
            .collect(),
        other => panic!("x-healthcheck-exemptions must be a mapping, got {other:?}"),
    }
}

/// `depends_on` in either form: a list of names, or a mapping name → `{condition: …}`.
fn depends_on(service: &Yaml) -> Vec<(String, String)> {
    match &service["depends_on"] {
        Yaml::Null => Vec::new(),
        Yaml::Sequence(names) => names
            .iter()
            .map(|n| {
                let name = n.as_str().expect("depends_on names are strings");
                (name.to_owned(), "service_started".to_owned())
            })
            .collect(),
        Yaml::Mapping(map) => map
            .iter()
            .map(|(name, spec)| {
                let name = name
                    .as_str()
                    .expect("depends_on names are strings")
                    .to_owned();
                let condition = spec["condition"]
                    .as_str()
                    .unwrap_or("service_started")
                    .to_owned();
                (name, condition)
            })
            .collect(),
        other => panic!("unexpected depends_on: {other:?}"),
    }
}

/// The services that run the image built from this repository: those built from `.`, and those using the
/// image such a service builds.
fn board_services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    let all = services(compose);
    let built_here = |service: &Yaml| match &service["build"] {
        Yaml::String(context) => is_repo_root(context),
        Yaml::Mapping(build) => build
            .get("context")
            .and_then(Yaml::as_str)
            .is_none_or(is_repo_root),
        _ => false,
    };
    let images: BTreeSet<String> = all
        .values()
        .filter(|s| built_here(s))
        .filter_map(|s| s["image"].as_str().map(str::to_owned))
        .collect();
    all.into_iter()
        .filter(|(_, s)| built_here(s) || s["image"].as_str().is_some_and(|i| images.contains(i)))
        .collect()
}

fn is_repo_root(context: &str) -> bool {
    matches!(context.trim_end_matches('/'), "." | "")
}

/// Services that serve HTTP (not one-shot jobs such as `board migrate`).
fn board_replicas(compose: &Yaml) -> BTreeMap<String, Yaml> {
    board_services(compose)
        .into_iter()
        .filter(|(_, s)| {
            let command = &s["command"];
            command.is_null()
                || command.as_str() == Some("serve")
                || command
                    .as_sequence()
                    .and_then(|c| c.first())
                    .and_then(Yaml::as_str)
                    == Some("serve")
        })
        .collect()
}

/// The names of the variables a Compose string interpolates: `${NAME}`, `${NAME:-default}`,
/// `${NAME:?message}`, `$NAME`; `$$` is a literal dollar.
fn interpolated(text: &str, into: &mut BTreeSet<String>) {
    let chars: Vec<char> = text.chars().collect();
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => i += 2,
            Some('{') => {
                let start = i + 2;
                let mut end = start;
                while end < chars.len() && name_char(chars[end]) {
                    end += 1;
                }
                assert!(end > start, "empty variable name in {text:?}");
                into.insert(chars[start..end].iter().collect());
                i = end;
            }
            Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && name_char(chars[end]) {
                    end += 1;
                }
                into.insert(chars[start..end].iter().collect());
                i = end;
            }
            _ => i += 1,
        }
    }
}

fn variables_used(value: &Yaml, into: &mut BTreeSet<String>) {
    match value {
        Yaml::String(s) => interpolated(s, into),
        Yaml::Sequence(items) => items.iter().for_each(|v| variables_used(v, into)),
        Yaml::Mapping(map) => map.iter().for_each(|(k, v)| {
            variables_used(k, into);
            variables_used(v, into);
        }),
        Yaml::Tagged(tagged) => variables_used(&tagged.value, into),
        _ => {}
    }
}

/// `.env.example` as `KEY → value`.
fn env_example() -> BTreeMap<String, String> {
    read(ENV_EXAMPLE)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{ENV_EXAMPLE}: not KEY=value: {l}"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// The port of a `host:port` address.
fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address:?}"))
}

// ---------------------------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn every_service_has_a_healthcheck_or_a_stated_reason() {
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
fn service_block<'a>(text: &'a str, name: &str) -> &'a str {
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
fn dependencies_name_existing_services_with_conditions_they_can_meet() {
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
    fn visit<'a>(
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
fn known_environment() -> BTreeSet<String> {
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
fn the_configuration_keys_are_derived_from_the_real_config() {
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
fn board_services_are_given_only_configuration_the_server_knows() {
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
fn replicas_share_the_database_cache_and_key_and_leave_migrating_to_the_job() {
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
fn bind_mounts_and_build_contexts_exist() {
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
fn with_defaults(text: &str) -> String {
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
fn published_ports(name: &str, service: &Yaml) -> Vec<(String, String, String)> {
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
fn published_host_ports_do_not_collide() {
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
fn env_example_defines_every_variable_and_no_secret() {
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
fn port_defaults_are_read_correctly() {
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
fn env_example_interpolation_is_read_correctly() {
    let mut vars = BTreeSet::new();
    interpolated(
        "mysql://${A}:${B:-x}@h/${C:?set C} $$NOT $D ${E-y}",
        &mut vars,
    );
    let expected: BTreeSet<String> = ["A", "B", "C", "D", "E"].map(String::from).into();
    assert_eq!(vars, expected);
}

// ---------------------------------------------------------------------------------------------------------------
// How the pieces find each other: proxy → replicas, Prometheus → replicas, replicas → Logstash
// ---------------------------------------------------------------------------------------------------------------

/// The port a replica listens on: its `BOARD_BIND`, else the Dockerfile's.
fn listen_port(service: &Yaml) -> u16 {
    let bind = environment(service)
        .get("BOARD_BIND")
        .cloned()
        .flatten()
        .or_else(|| dockerfile_env().get("BOARD_BIND").cloned())
        .expect("BOARD_BIND is set in the service or the Dockerfile");
    port_of(&bind)
}

#[test]
fn the_proxy_balances_over_the_replicas_on_their_port() {
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
fn prometheus_scrapes_every_replica_on_its_port() {
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
fn replicas_ship_logs_to_the_logstash_input() {
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

// ---------------------------------------------------------------------------------------------------------------
// deploy/verify.sh: the services it starts and the stand-in images it builds for them
// ---------------------------------------------------------------------------------------------------------------

const VERIFY: &str = "deploy/verify.sh";

/// An image reference as Docker reads it: `mariadb:10.11` is `docker.io/library/mariadb:10.11`.
fn fully_qualified(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if !image.contains('/') {
        format!("docker.io/library/{image}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        image.to_owned()
    } else {
        format!("docker.io/{image}")
    }
}

#[test]
fn verify_starts_real_services_and_stands_in_for_each_of_their_registry_images() {
    let script = read(VERIFY);
    let core: Vec<String> = script
        .lines()
        .find_map(|l| l.strip_prefix("core=("))
        .and_then(|l| l.strip_suffix(')'))
        .expect("deploy/verify.sh lists the services it starts in core=(…)")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let standins: BTreeMap<String, String> = script
        .lines()
        .filter_map(|l| l.strip_prefix("standin "))
        .map(|l| {
            let (name, tag) = l.trim().split_once(' ').expect("standin NAME TAG");
            (tag.to_owned(), name.to_owned())
        })
        .collect();
    let compose = compose();
    let all = services(&compose);
    let ours = board_services(&compose);
    for name in &core {
        let service = all
            .get(name)
            .unwrap_or_else(|| panic!("{VERIFY} starts {name}, which {COMPOSE} does not define"));
        if ours.contains_key(name) {
            continue;
        }
        let image = service["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no image"));
        let standin = standins.get(&fully_qualified(image)).unwrap_or_else(|| {
            panic!(
                "{VERIFY} starts {name} ({image}) but builds no stand-in tagged {}",
                fully_qualified(image)
            )
        });
        let containerfile = format!("deploy/podman/standins/{standin}.Containerfile");
        assert!(
            root().join(&containerfile).exists(),
            "{containerfile} is missing"
        );
    }
    // Every service the replicas wait for is started too.
    for name in &core {
        for (dependency, _) in depends_on(&all[name]) {
            assert!(
                core.contains(&dependency),
                "{VERIFY} starts {name} but not {dependency}, which it depends on"
            );
        }
    }
    assert_eq!(
        fully_qualified("prom/prometheus:v2.55.1"),
        "docker.io/prom/prometheus:v2.55.1"
    );
    assert_eq!(
        fully_qualified("docker.elastic.co/kibana/kibana:8.15.5"),
        "docker.elastic.co/kibana/kibana:8.15.5"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------------------------

/// The Dockerfile's instructions, `(KEYWORD, arguments)`, with comments dropped and continuations joined.
fn dockerfile() -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read(DOCKERFILE).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((keyword.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    assert!(
        current.is_empty(),
        "{DOCKERFILE} ends inside a continuation"
    );
    instructions
}

/// The instructions of the last stage (the image that runs).
fn final_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let last_from = all
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM instruction");
    all[last_from..].to_vec()
}

fn dockerfile_env() -> BTreeMap<String, String> {
    final_stage()
        .into_iter()
        .filter(|(k, _)| k == "ENV")
        .flat_map(|(_, args)| {
            args.split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Each `COPY` without `--from`: its sources (build-context paths).
fn copied_sources() -> Vec<String> {
    let mut sources = Vec::new();
    for (keyword, args) in dockerfile() {
        if keyword != "COPY" && keyword != "ADD" {
            continue;
        }
        let words: Vec<String> = if args.starts_with('[') {
            serde_json::from_str(&args).expect("COPY in JSON form is a JSON array of strings")
        } else {
            args.split_whitespace().map(str::to_owned).collect()
        };
        let (flags, paths): (Vec<String>, Vec<String>) =
            words.into_iter().partition(|w| w.starts_with("--"));
        if flags.iter().any(|f| f.starts_with("--from")) {
            continue;
        }
        assert!(
            paths.len() >= 2,
            "{keyword} {args}: needs a source and a destination"
        );
        sources.extend(paths[..paths.len() - 1].iter().cloned());
    }
    sources
}

#[test]
fn the_dockerfile_copies_only_paths_that_exist_and_the_dockerignore_keeps() {
    let sources = copied_sources();
    assert!(!sources.is_empty(), "{DOCKERFILE} copies nothing");
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    for source in &sources {
        assert!(
            !source.contains(['*', '?', '[']),
            "{DOCKERFILE}: use plain paths in COPY ({source}) so this test can check them"
        );
        let path = source.trim_start_matches("./").trim_end_matches('/');
        assert!(
            root().join(path).exists(),
            "{DOCKERFILE} copies {source}, which does not exist"
        );
        let top = path.split('/').next().unwrap_or(path);
        assert!(
            !ignored.iter().any(|i| i == path || i == top),
            "{DOCKERFILE} copies {source}, which .dockerignore excludes"
        );
    }
    for needed in [".git", "target", ".env"] {
        assert!(
            ignored.iter().any(|i| i == needed),
            ".dockerignore should exclude {needed}"
        );
    }
}

/// The `sqlx::migrate!("…")` directories under `src/`: embedded at compile time, so the build needs them.
fn embedded_migration_dirs() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("migrate!(\"") {
                    let rest = &text[i + "migrate!(\"".len()..];
                    let dir = &rest[..rest.find('"').unwrap()];
                    found.insert(dir.trim_start_matches("./").to_owned());
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&root().join("src"), &mut found);
    found
}

#[test]
fn the_dockerfile_copies_everything_the_build_reads() {
    let copied: Vec<String> = copied_sources()
        .iter()
        .map(|s| s.trim_start_matches("./").trim_end_matches('/').to_owned())
        .collect();
    let covered = |path: &str| {
        copied
            .iter()
            .any(|c| path == c || path.starts_with(&format!("{c}/")))
    };
    let migrations = embedded_migration_dirs();
    assert!(
        !migrations.is_empty(),
        "expected sqlx::migrate! directories under src/"
    );
    let mut needed: Vec<String> = ["Cargo.toml", "Cargo.lock", "src"]
        .map(String::from)
        .to_vec();
    needed.extend(migrations);
    if root().join("build.rs").exists() {
        needed.push("build.rs".into());
    }
    for path in &needed {
        assert!(
            covered(path),
            "{DOCKERFILE} does not copy {path}, which the build reads"
        );
    }
    let stages = dockerfile();
    let build = stages
        .iter()
        .find(|(k, a)| k == "RUN" && a.contains("cargo build") && !a.contains("fn main"))
        .expect("a RUN cargo build of the real sources");
    assert!(
        build.1.contains("--locked") && build.1.contains("--release"),
        "build with --release --locked: {}",
        build.1
    );
}

/// The source files of the targets Cargo.toml declares itself (`[lib]`, `[[bin]]`, `[[bench]]`,
/// `[[example]]`, `[[test]]`): cargo refuses a manifest whose declared targets are missing.
fn declared_targets() -> Vec<String> {
    let mut targets = Vec::new();
    let mut section: Option<(String, Option<String>, Option<String>)> = None;
    let mut flush = |section: &mut Option<(String, Option<String>, Option<String>)>| {
        if let Some((kind, name, path)) = section.take() {
            let default_dir = match kind.as_str() {
                "bench" => "benches",
                "example" => "examples",
                "test" => "tests",
                "bin" => "src/bin",
                _ => "src",
            };
            let path = path.or_else(|| match kind.as_str() {
                "lib" => Some("src/lib.rs".to_owned()),
                _ => name.map(|n| format!("{default_dir}/{n}.rs")),
            });
            targets.push(path.unwrap_or_else(|| panic!("Cargo.toml: a [[{kind}]] without a name")));
        }
    };
    for line in read("Cargo.toml").lines().map(str::trim) {
        if line.starts_with('[') {
            flush(&mut section);
            let header = line.trim_matches(|c| c == '[' || c == ']');
            if ["lib", "bin", "bench", "example", "test"].contains(&header) {
                section = Some((header.to_owned(), None, None));
            }
            continue;
        }
        let Some((_, name, path)) = section.as_mut() else {
            continue;
        };
        let value = |l: &str| l.split('"').nth(1).map(str::to_owned);
        if let Some(rest) = line.strip_prefix("name") {
            *name = value(rest);
        } else if let Some(rest) = line.strip_prefix("path") {
            *path = value(rest);
        }
    }
    flush(&mut section);
    targets
}

#[test]
fn the_dependency_layer_stands_in_for_every_declared_target() {
    let targets = declared_targets();
    assert!(
        targets.contains(&"benches/hot_path.rs".to_owned()),
        "expected the hot_path benchmark among the declared targets: {targets:?}"
    );
    let instructions = dockerfile();
    let stubs = instructions
        .iter()
        .position(|(k, a)| k == "RUN" && a.contains("cargo build") && a.contains("fn main"))
        .expect("a RUN that builds the dependencies against stand-in sources");
    let copied_before: Vec<String> = instructions[..stubs]
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a.clone())
        .collect();
    let run = &instructions[stubs].1;
    let (create, cleanup) = run.split_once("cargo build").unwrap();
    for target in &targets {
        let dir = target.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        assert!(
            create.contains(target.as_str())
                || copied_before
                    .iter()
                    .any(|c| c.split_whitespace().any(|w| w == target)),
            "{DOCKERFILE}: the dependency layer neither copies nor stands in for {target}, which Cargo.toml \
             declares (cargo would refuse the manifest)"
        );
        // The real build that follows reads the same manifest: a stand-in that is cleaned up must come back
        // with the real sources.
        let removed = cleanup.split_whitespace().any(|w| {
            let w = w.trim_end_matches('/');
            w == target || (!dir.is_empty() && w == dir)
        });
        let recopied = instructions[stubs + 1..].iter().any(|(k, a)| {
            k == "COPY"
                && a.split_whitespace()
                    .any(|w| w.trim_end_matches('/') == dir || w == target)
        });
        assert!(
            !removed || recopied,
            "{DOCKERFILE}: {target} is removed after the dependency build and not copied back"
        );
    }
}

#[test]
fn the_builder_is_new_enough_for_the_crate() {
    let manifest = read("Cargo.toml");
    let required = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version"))
        .and_then(|l| l.split('"').nth(1))
        .expect("Cargo.toml declares rust-version");
    let version = |v: &str| -> (u32, u32) {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
        (parts.next().unwrap(), parts.next().unwrap_or(0))
    };
    let instructions = dockerfile();
    let default_arg = instructions
        .iter()
        .find_map(|(k, a)| {
            (k == "ARG")
                .then(|| a.strip_prefix("RUST_VERSION="))
                .flatten()
        })
        .map(str::to_owned);
    let builder = instructions
        .iter()
        .find(|(k, a)| k == "FROM" && a.starts_with("rust:"))
        .map(|(_, a)| a.clone())
        .expect("a rust: builder stage");
    let tag = builder
        .trim_start_matches("rust:")
        .split_whitespace()
        .next()
        .unwrap()
        .replace("${RUST_VERSION}", default_arg.as_deref().unwrap_or(""));
    let number: String = tag.split('-').next().unwrap().to_owned();
    assert!(
        version(&number) >= version(required),
        "the builder's Rust {number} is older than the crate's rust-version {required}"
    );
}

#[test]
fn the_image_has_a_healthcheck_and_runs_as_a_non_root_user() {
    let stage = final_stage();
    let healthcheck = stage
        .iter()
        .find(|(k, _)| k == "HEALTHCHECK")
        .map(|(_, a)| a.clone())
        .expect("the final stage has a HEALTHCHECK");
    assert!(!healthcheck.trim().eq_ignore_ascii_case("NONE"));
    assert!(
        healthcheck.contains("/healthz"),
        "the HEALTHCHECK should ask /healthz: {healthcheck}"
    );
    let bind = dockerfile_env()
        .get("BOARD_BIND")
        .cloned()
        .expect("the image sets BOARD_BIND");
    assert!(
        healthcheck.contains(&format!(":{}/healthz", port_of(&bind))),
        "the HEALTHCHECK should use the port of BOARD_BIND ({bind})"
    );
    let user = stage
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, a)| a.clone())
        .expect("the final stage sets a USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !name.is_empty() && name != "root" && name != "0",
        "the image must not run as root (USER {user})"
    );
    assert_eq!(
        dockerfile_env().get("BOARD_LOG_FORMAT").map(String::as_str),
        Some("json")
    );
    for key in dockerfile_env().keys() {
        assert!(
            known_environment().contains(key) || !key.starts_with("BOARD_"),
            "the image sets {key}, which board does not read"
        );
    }
}
