//! `docker-compose.scale.yml`: each service belongs to scale-out profiles, has a healthcheck or a stated
//! reason, and waits only for services that every one of its profiles starts; its replicas are given only configuration the server knows and the
//! cache URL of their shape. `deploy/verify-scale.sh` runs it; this holds it together without starting it.

use super::*;

const SCALE: &str = "docker-compose.scale.yml";
const PROFILES: [&str; 3] = ["cluster", "sentinel", "galera"];

fn profiles(name: &str, service: &Yaml) -> BTreeSet<String> {
    let profiles: BTreeSet<String> = service["profiles"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{SCALE}: {name} is in no profile"))
        .iter()
        .map(|p| p.as_str().expect("profile names are strings").to_owned())
        .collect();
    for profile in &profiles {
        assert!(
            PROFILES.contains(&profile.as_str()),
            "{SCALE}: {name} is in the unknown profile {profile}"
        );
    }
    profiles
}

#[test]
fn every_service_waits_only_for_services_its_profiles_start() {
    let compose = compose_file(SCALE);
    let services = services(&compose);
    let exemptions = exemptions(&compose);
    for (name, service) in &services {
        let mine = profiles(name, service);
        assert!(
            has_healthcheck(service) || exemptions.contains_key(name),
            "{SCALE}: {name} has no healthcheck and no entry in x-healthcheck-exemptions"
        );
        for (dependency, _) in depends_on(service) {
            let target = services.get(&dependency).unwrap_or_else(|| {
                panic!("{name} depends on {dependency}, which is not a service")
            });
            let theirs = profiles(&dependency, target);
            assert!(
                mine.is_subset(&theirs),
                "{name} ({mine:?}) waits for {dependency}, which only {theirs:?} start"
            );
        }
    }
    for profile in PROFILES {
        assert!(
            services
                .values()
                .filter(|s| s["profiles"]
                    .as_sequence()
                    .is_some_and(|p| p.iter().any(|p| p.as_str() == Some(profile))))
                .count()
                >= 3,
            "{SCALE}: the {profile} profile starts almost nothing"
        );
    }
}

#[test]
fn replicas_are_given_known_configuration_and_their_shapes_cache_url() {
    let compose = compose_file(SCALE);
    let known = known_environment();
    let board = board_services(&compose);
    for profile in PROFILES {
        let replicas: Vec<_> = board
            .iter()
            .filter(|(name, _)| name.starts_with(profile) && name.contains("board"))
            .collect();
        assert_eq!(
            replicas.len(),
            2,
            "{profile}: two replicas, found {replicas:?}"
        );
        for (name, service) in replicas {
            let environment = environment(service);
            for key in environment.keys() {
                assert!(
                    known.contains(key),
                    "{name} sets {key}, which board does not read"
                );
            }
            let redis = environment
                .get("REDIS_URL")
                .cloned()
                .flatten()
                .unwrap_or_else(|| panic!("{name} has no REDIS_URL"));
            let scheme = match profile {
                "cluster" => "redis-cluster://",
                "sentinel" => "redis-sentinel://",
                _ => "redis://",
            };
            assert!(
                redis.starts_with(scheme),
                "{name}: REDIS_URL {redis} is not a {scheme} URL"
            );
        }
    }
}
