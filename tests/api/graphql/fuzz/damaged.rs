//! Strategies of broken and oversized requests: printable junk, token soup, random bytes, JSON bodies,
//! corrupted documents, batches, depth, aliases, long strings and GETs.

use super::*;

/// Random printable strings as the whole document.
pub(super) fn printable_documents() -> BoxedStrategy<Case> {
    (
        prop_oneof!["\\PC{0,300}", "[ -~]{0,300}"],
        prop::option::of(json_value()),
    )
        .prop_map(|(query, variables)| {
            let mut body = json!({ "query": query });
            if let Some(variables) = variables {
                body["variables"] = variables;
            }
            Case::json(&body)
        })
        .boxed()
}

/// Documents glued from GraphQL tokens: closer to valid, so they get further into the parser.
pub(super) fn token_soup() -> BoxedStrategy<Case> {
    (
        prop::collection::vec(select(TOKENS), 0..80),
        prop::option::of(json_value()),
        auth(),
    )
        .prop_map(|(tokens, v, auth)| {
            let mut body = json!({ "query": tokens.join(" ") });
            if let Some(v) = v {
                body["variables"] = json!({ "v": v });
            }
            Case::json(&body).auth(auth)
        })
        .boxed()
}

pub(super) fn random_bytes() -> BoxedStrategy<Case> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        prop::collection::vec(
            select(&b"{}[]\":,0123456789.eE-+ truefalsnu\\/\x00\xff\xc3querayvibls"[..]),
            0..400
        ),
    ]
    .prop_map(Case::raw)
    .boxed()
}

/// Arbitrary JSON as the body, or as the fields of a request object.
pub(super) fn json_bodies() -> BoxedStrategy<Case> {
    prop_oneof![
        json_value().prop_map(|v| Case::json(&v)),
        (
            json_value(),
            prop::option::of(json_value()),
            prop::option::of(json_value()),
            prop::option::of(json_value())
        )
            .prop_map(|(query, variables, operation, extensions)| {
                let mut body = json!({ "query": query });
                for (k, v) in [
                    ("variables", variables),
                    ("operationName", operation),
                    ("extensions", extensions),
                ] {
                    if let Some(v) = v {
                        body[k] = v;
                    }
                }
                Case::json(&body)
            }),
    ]
    .boxed()
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Damage {
    Insert,
    Replace,
    Truncate,
    Delete,
}

/// Valid requests with bytes inserted, replaced or cut: invalid UTF-8, NUL, broken JSON.
pub(super) fn corrupted(fx: &Fixture) -> BoxedStrategy<Case> {
    let valid: Vec<String> = vec![
        r#"{"query":"{ viewer { id name } }"}"#.to_owned(),
        r#"{"query":"query($s: String) { posts(search: $s, first: 3) { totalCount nodes { title } } }","variables":{"s":"board"}}"#.to_owned(),
        serde_json::to_string(&json!({
            "query": "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }",
            "variables": { "i": { "categoryId": fx.category_id, "title": "title", "content": "content" } },
        }))
        .unwrap(),
        r#"{"query":"mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }","variables":{"i":{"name":"corrupt","email":"c@example.com","password":"password-1"}}}"#.to_owned(),
        r#"[{"query":"{ viewer { id } }"},{"query":"{ categories { id } }"}]"#.to_owned(),
    ];
    (
        select(valid),
        select(
            &[
                Damage::Insert,
                Damage::Replace,
                Damage::Truncate,
                Damage::Delete,
            ][..],
        ),
        prop::collection::vec(
            (
                any::<Index>(),
                prop_oneof![0x80u8..=0xff, Just(0u8), any::<u8>()],
            ),
            1..6,
        ),
        auth(),
    )
        .prop_map(|(body, damage, edits, auth)| {
            let mut bytes = body.into_bytes();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                match damage {
                    Damage::Insert => bytes.insert(i, byte),
                    Damage::Replace => bytes[i] = byte,
                    Damage::Truncate => bytes.truncate(i),
                    Damage::Delete => {
                        bytes.remove(i);
                    }
                }
                if bytes.is_empty() {
                    break;
                }
            }
            Case::raw(bytes).auth(auth)
        })
        .boxed()
}

pub(super) fn batches(fx: &Fixture) -> BoxedStrategy<Case> {
    let entry = prop_oneof![
        3 => queries(fx).prop_map(|c| match c.request {
            Request::Post { body, .. } => serde_json::from_slice(&body).unwrap(),
            Request::Get { .. } => Value::Null,
        }),
        1 => json_value(),
    ];
    (prop::collection::vec(entry, 0..30), auth())
        .prop_map(|(list, auth)| Case::json(&Value::Array(list)).auth(auth))
        .boxed()
}

/// Nesting of every kind, up to a few thousand levels.
pub(super) fn deep() -> BoxedStrategy<Case> {
    (0usize..8, prop_oneof![1usize..40, 1usize..1_000, 1usize..5_000])
        .prop_map(|(kind, depth)| match kind {
            0 => Case::query(&deep_real_fields(depth.min(300))),
            1 => Case::query(&nested("{ a ", "", "}", depth)),
            2 => Case::query(&format!("{{ nodes(ids: {}) {{ id }} }}", nested("[", "\"x\"", "]", depth))),
            3 => Case::query(&format!("{{ posts(search: {}) {{ totalCount }} }}", nested("{a: ", "1", "}", depth))),
            4 => Case::query(&nested("{ ... on Query ", "{ __typename }", "}", depth)),
            5 => Case::query(&fragment_bomb(1 + depth % 14)),
            6 => Case::raw(format!(
                "{{\"query\":\"query($v: [ID]) {{ nodes(ids: $v) {{ id }} }}\",\"variables\":{{\"v\":{}}}}}",
                nested("[", "", "]", depth)
            )),
            _ => Case::query(&"{ viewer {".repeat(depth)),
        })
        .boxed()
}

pub(super) fn many_aliases() -> BoxedStrategy<Case> {
    (
        prop_oneof![1usize..100, 1usize..30_000],
        select(
            &[
                "__typename",
                "viewer { id }",
                "categories { id name }",
                "posts(first: 100) { nodes { id } }",
                "node(id: \"UG9zdDox\") { id }",
                "user(name: \"hostile_user\") { id }",
            ][..],
        ),
        auth(),
    )
        .prop_map(|(count, field, auth)| Case::query(&aliases(count, field)).auth(auth))
        .boxed()
}

/// Strings from a few bytes to past the body limit, in every place a string goes.
pub(super) fn long_strings(fx: &Fixture) -> BoxedStrategy<Case> {
    let category = fx.category_id.clone();
    (
        prop_oneof![
            0usize..4_096,
            0usize..(MIB + 64 * 1024),
            Just(900 * 1024),
            Just(MIB + 1)
        ],
        select(&["x", "한", "🦀", "\0", "'", "\\", "%", "\""][..]),
        0usize..6,
    )
        .prop_map(move |(bytes, unit, place)| {
            let text = unit.repeat(bytes / unit.len().max(1));
            match place {
                0 => Case::query_vars(
                    "query($s: String) { posts(search: $s) { totalCount } }",
                    json!({ "s": text }),
                ),
                1 => Case::query(&format!("{{ user(name: {}) {{ id }} }}", gql_string(&text))),
                2 => Case::query(&text),
                3 => Case::json(&json!({ "query": "{ viewer { id } }", "operationName": text })),
                4 => Case::query_vars(
                    "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                    json!({ "i": { "categoryId": category, "title": text, "content": text } }),
                )
                .auth(Auth::User),
                _ => Case::query_vars(
                    "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                    json!({ "i": { "name": text, "email": text, "password": text } }),
                ),
            }
        })
        .boxed()
}

pub(super) fn get_requests(fx: &Fixture) -> BoxedStrategy<Case> {
    let raw = prop::collection::vec(
        select(
            &[
                "%",
                "%FF",
                "%00",
                "&",
                "=",
                "query",
                "variables",
                "operationName",
                "+",
                "%7B",
                "{",
                "}",
                "%zz",
                "%C0%AF",
                "viewer",
                "[",
                "]",
            ][..],
        ),
        0..30,
    )
    .prop_map(|parts| parts.concat());
    let encoded = (
        prop::option::of(prop_oneof![
            queries(fx).prop_map(|c| match c.request {
                Request::Post { body, .. } =>
                    serde_json::from_slice::<Value>(&body).unwrap()["query"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                Request::Get { .. } => String::new(),
            }),
            "\\PC{0,200}",
        ]),
        prop::option::of(prop_oneof![
            json_value().prop_map(|v| v.to_string()),
            hostile_string()
        ]),
        prop::option::of(hostile_string()),
    )
        .prop_map(|(query, variables, operation)| {
            // URLs stop at 64 KiB (the client refuses longer ones): at most 1000 characters a value.
            let cut = |s: Option<String>| s.map(|s| s.chars().take(1_000).collect::<String>());
            let (query, variables, operation) = (cut(query), cut(variables), cut(operation));
            let mut pairs = Vec::new();
            if let Some(q) = &query {
                pairs.push(("query", q.as_str()));
            }
            if let Some(v) = &variables {
                pairs.push(("variables", v.as_str()));
            }
            if let Some(o) = &operation {
                pairs.push(("operationName", o.as_str()));
            }
            url_encode(&pairs)
        });
    (prop_oneof![1 => raw, 3 => encoded], auth())
        .prop_map(|(query, auth)| Case::get(query).auth(auth))
        .boxed()
}
