//! The `Dockerfile`: what it copies, the dependency layer, the builder's version, the image it makes.

use super::*;

/// The Dockerfile's instructions, `(KEYWORD, arguments)`, with comments dropped and continuations joined.
pub(super) fn dockerfile() -> Vec<(String, String)> {
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
pub(super) fn final_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let last_from = all
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM instruction");
    all[last_from..].to_vec()
}

pub(super) fn dockerfile_env() -> BTreeMap<String, String> {
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
pub(super) fn copied_sources() -> Vec<String> {
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
pub(super) fn the_dockerfile_copies_only_paths_that_exist_and_the_dockerignore_keeps() {
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
pub(super) fn embedded_migration_dirs() -> BTreeSet<String> {
    pub(super) fn walk(dir: &Path, found: &mut BTreeSet<String>) {
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
pub(super) fn the_dockerfile_copies_everything_the_build_reads() {
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
pub(super) fn declared_targets() -> Vec<String> {
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
pub(super) fn the_dependency_layer_stands_in_for_every_declared_target() {
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
pub(super) fn the_builder_is_new_enough_for_the_crate() {
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
pub(super) fn the_image_has_a_healthcheck_and_runs_as_a_non_root_user() {
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
