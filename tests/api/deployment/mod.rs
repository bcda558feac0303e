//! The deployment files hold together without starting anything: `docker-compose.yml` (healthchecks,
//! dependencies, environment keys the server knows, bind mounts, published ports, `.env.example`), the
//! `Dockerfile` (copies only what exists, and everything the build embeds; a healthcheck; a non-root user),
//! and the names that `deploy/nginx.conf`, `observability/prometheus.yml` and the Logstash pipeline use to
//! reach the replicas and each other.

mod compose;
mod compose_scale;
mod dockerfile;
mod verify_script;
mod wiring;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value as Yaml;

use compose::*;
use dockerfile::*;

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
    compose_file(COMPOSE)
}

/// A compose file of the repository as Compose sees it (see [`compose`]).
fn compose_file(relative: &str) -> Yaml {
    let mut value: Yaml =
        serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    // Twice: a service that merges another one which merges an anchor of its own (`<<: *replica-1`
    // where replica-1 has `<<: *image`) holds a merge key again after the first pass.
    for _ in 0..2 {
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{relative}: {e}"));
    }
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
