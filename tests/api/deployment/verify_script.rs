//! `deploy/verify.sh`: the services it starts and the stand-in images it builds for them.

use super::*;

pub(super) const VERIFY: &str = "deploy/verify.sh";

/// An image reference as Docker reads it: `mariadb:10.11` is `docker.io/library/mariadb:10.11`.
pub(super) fn fully_qualified(image: &str) -> String {
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
pub(super) fn verify_starts_real_services_and_stands_in_for_each_of_their_registry_images() {
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
