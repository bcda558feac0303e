//! The proptest strategies that generate documents, variables and bodies.

use super::*;

pub(super) fn sql_meta() -> BoxedStrategy<String> {
    select(SQL_META).prop_map(str::to_owned).boxed()
}

pub(super) fn number_text() -> BoxedStrategy<String> {
    prop_oneof![
        select(NUMBER_TEXT).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<i128>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "-?[0-9]{1,60}",
    ]
    .boxed()
}

/// Strings meant to hurt: printable noise, control characters, SQL meta-characters, NUL, odd Unicode,
/// and long runs.
pub(super) fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "\\PC{0,40}",
        2 => ".{0,40}",
        3 => (sql_meta(), "\\PC{0,10}", sql_meta()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        1 => ("[a-z]{0,5}", 1usize..4, "[a-z]{0,5}").prop_map(|(a, n, b)| format!("{a}{}{b}", "\0".repeat(n))),
        1 => (
            select(&["a", "한", "🦀", "\u{301}", "\u{202e}", "\u{feff}", "\0", "'", "%", "\\", "\u{10ffff}"][..]),
            0usize..20_000,
        )
            .prop_map(|(c, n)| c.repeat(n)),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// Random base64 (most of it not an id at all) and ids of real types holding odd numbers.
pub(super) fn random_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| STANDARD.encode(b)),
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        3 => (select(ID_KINDS), number_text()).prop_map(|(k, n)| b64(&format!("{k}:{n}"))),
        2 => (select(ID_KINDS), 1i64..1_000).prop_map(|(k, n)| b64(&format!("{k}:{n}"))),
        1 => (select(ID_KINDS), sql_meta()).prop_map(|(k, m)| b64(&format!("{k}:1{m}"))),
        1 => "[A-Za-z0-9+/=_-]{0,40}",
    ]
    .boxed()
}

/// A random id, or one of the fixture's real ids.
pub(super) fn id_value(fx: &Fixture) -> BoxedStrategy<String> {
    let real = fx.ids.clone();
    prop_oneof![3 => random_id(), 1 => select(real)].boxed()
}

pub(super) fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_string().prop_map(Value::String),
        random_id().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A GraphQL input literal of any type, well-formed or not quite.
pub(super) fn gql_literal() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        3 => hostile_string().prop_map(|s| gql_string(&s)),
        2 => random_id().prop_map(|s| gql_string(&s)),
        2 => number_text(),
        1 => select(&["true", "false", "null", "NEWEST", "OLDEST", "MOST_VOTED", "BOGUS", "ADMIN", "$v", "$undeclared"][..]).prop_map(str::to_owned),
        1 => "[^\"\\\\]{0,30}".prop_map(|s| format!("\"\"\"{s}\"\"\"")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
    .boxed()
}

pub(super) fn is_id_argument(name: &str) -> bool {
    matches!(
        name,
        "id" | "categoryId" | "authorId" | "parentId" | "postId" | "commentId" | "userId"
    )
}

/// A value for a query argument: mostly of the right type (so it reaches the resolvers), sometimes anything.
pub(super) fn argument(name: &'static str, fx: &Fixture) -> BoxedStrategy<String> {
    let typed: BoxedStrategy<String> = match name {
        n if is_id_argument(n) => id_value(fx).prop_map(|s| gql_string(&s)).boxed(),
        "ids" => prop::collection::vec(id_value(fx), 0..8)
            .prop_map(|v| {
                format!(
                    "[{}]",
                    v.iter()
                        .map(|s| gql_string(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .boxed(),
        "first" | "last" => {
            prop_oneof![3 => (-5i64..150).prop_map(|n| n.to_string()), 1 => number_text()].boxed()
        }
        "orderBy" => select(&["NEWEST", "OLDEST", "MOST_VOTED", "BOGUS"][..])
            .prop_map(str::to_owned)
            .boxed(),
        "after" | "before" => prop_oneof![random_id(), hostile_string()]
            .prop_map(|s| gql_string(&s))
            .boxed(),
        _ => hostile_string().prop_map(|s| gql_string(&s)).boxed(),
    };
    prop_oneof![9 => typed, 1 => gql_literal()].boxed()
}

pub(super) fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        3 => Just(Auth::Anonymous),
        3 => Just(Auth::User),
        1 => Just(Auth::Admin),
        1 => "[ -~]{0,80}".prop_map(Auth::Raw),
        1 => random_id().prop_map(|t| Auth::Raw(format!("Bearer {t}"))),
    ]
    .boxed()
}

/// One root field with generated arguments, maybe an unknown argument and an alias.
pub(super) fn root_field(fx: &Fixture) -> BoxedStrategy<String> {
    let arms: Vec<BoxedStrategy<String>> = ROOT_FIELDS
        .iter()
        .map(|&(name, args, selection)| {
            let args: Vec<BoxedStrategy<Option<String>>> = args
                .iter()
                .map(|&arg| {
                    prop::option::weighted(0.6, argument(arg, fx))
                        .prop_map(move |v| v.map(|v| format!("{arg}: {v}")))
                        .boxed()
                })
                .collect();
            (
                args,
                prop::option::weighted(0.1, "[a-z]{1,6}: [0-9]{1,3}"),
                prop::option::weighted(0.2, "[a-z][a-zA-Z0-9_]{0,6}"),
            )
                .prop_map(move |(args, bogus, alias)| {
                    let mut list: Vec<String> = args.into_iter().flatten().collect();
                    list.extend(bogus);
                    let args = if list.is_empty() {
                        String::new()
                    } else {
                        format!("({})", list.join(", "))
                    };
                    let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
                    format!("{alias}{name}{args} {selection}")
                })
                .boxed()
        })
        .collect();
    Union::new(arms).boxed()
}

pub(super) fn queries(fx: &Fixture) -> BoxedStrategy<Case> {
    (
        prop::collection::vec(root_field(fx), 1..4),
        select(VAR_TYPES),
        prop::option::of(json_value()),
        auth(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(fields, var_type, value, auth, wrong_declaration)| {
            let selection = fields.join(" ");
            // `$v` is declared where it is used, mostly: otherwise validation refuses every such document.
            let header = if selection.contains("$v") != wrong_declaration {
                format!("query Q($v: {var_type})")
            } else {
                "query Q".to_owned()
            };
            let mut body = json!({ "query": format!("{header} {{ {selection} }}") });
            if let Some(value) = value {
                body["variables"] = json!({ "v": value });
            }
            Case::json(&body).auth(auth)
        })
        .boxed()
}

/// A value for an input field of a mutation.
pub(super) fn input_value(
    mutation: &'static str,
    field: &'static str,
    fx: &Fixture,
) -> BoxedStrategy<Value> {
    let typed: BoxedStrategy<String> = match field {
        // Never the fixture's own post or comment, so the cases after still find them.
        _ if mutation.starts_with("delete") => random_id(),
        "userId" => random_id(),
        f if is_id_argument(f) => id_value(fx),
        "name" => prop_oneof!["[a-z]{2,12}", "[a-z_-]{2,10}\\PC{0,4}", hostile_string()].boxed(),
        "email" | "login" => prop_oneof![
            ("[a-z]{1,8}", sql_meta()).prop_map(|(a, m)| format!("{a}{m}@example.com")),
            "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}",
            Just("hostile_user".to_owned()),
            hostile_string(),
        ]
        .boxed(),
        "password" | "currentPassword" | "newPassword" => {
            prop_oneof!["[a-z]{8,20}", hostile_string()].boxed()
        }
        "role" => select(&["ADMIN", "USER", "ROOT", "admin"][..])
            .prop_map(str::to_owned)
            .boxed(),
        _ => hostile_string(),
    };
    prop_oneof![5 => typed.prop_map(Value::String), 1 => json_value()].boxed()
}

pub(super) fn mutations(fx: &Fixture) -> BoxedStrategy<Case> {
    let arms: Vec<BoxedStrategy<Case>> = MUTATIONS
        .iter()
        .map(|&(name, ty, fields, selection)| {
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
                .iter()
                .map(|&field| {
                    prop::option::weighted(0.9, input_value(name, field, fx))
                        .prop_map(move |v| v.map(|v| (field.to_owned(), v)))
                        .boxed()
                })
                .collect();
            (
                fields,
                prop::option::weighted(0.1, ("[a-zA-Z]{1,8}", json_value())),
                auth(),
                prop_oneof![4 => Just(true), 1 => Just(false)],
            )
                .prop_map(move |(fields, extra, auth, as_variable)| {
                    let mut input = serde_json::Map::new();
                    for (k, v) in fields.into_iter().flatten() {
                        input.insert(k, v);
                    }
                    if let Some((k, v)) = extra {
                        input.insert(k, v);
                    }
                    let input = Value::Object(input);
                    let case = if as_variable {
                        Case::query_vars(
                            &format!("mutation M($i: {ty}) {{ {name}(input: $i) {selection} }}"),
                            json!({ "i": input }),
                        )
                    } else {
                        Case::query(&format!(
                            "mutation {{ {name}(input: {}) {selection} }}",
                            gql_literal_of(&input)
                        ))
                    };
                    case.auth(auth)
                })
                .boxed()
        })
        .collect();
    Union::new(arms).boxed()
}

/// Numbers of every size where an `Int` (or an id, or a string) is expected.
pub(super) fn numbers() -> BoxedStrategy<Case> {
    (
        number_text(),
        select(&["first", "last"][..]),
        select(&["Int", "Int!", "Float", "ID", "String", "[Int]"][..]),
        any::<bool>(),
    )
        .prop_map(|(number, arg, var_type, as_variable)| {
            if as_variable {
                Case::raw(format!(
                    "{{\"query\":\"query($n: {var_type}) {{ posts({arg}: $n) {{ totalCount }} }}\",\"variables\":{{\"n\":{number}}}}}"
                ))
            } else {
                Case::query(&format!("{{ posts({arg}: {number}) {{ totalCount }} categories {{ posts({arg}: {number}) {{ totalCount }} }} }}"))
            }
        })
        .boxed()
}

/// Random base64 where ids go.
pub(super) fn ids(fx: &Fixture) -> BoxedStrategy<Case> {
    (
        prop::collection::vec(id_value(fx), 1..120),
        select(&[
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Post { title } ... on Comment { content } } }",
            "query($ids: [ID!]!) { post(id: $ids) { id } }",
        ][..]),
        select(&[
            "query($id: ID!) { node(id: $id) { id } post(id: $id) { id } comment(id: $id) { id } category(id: $id) { id } }",
            "query($id: ID) { posts(categoryId: $id, first: 3) { totalCount } }",
            "query($id: ID) { posts(authorId: $id, first: 3) { totalCount } }",
            "query($id: String) { posts(first: 3, after: $id) { totalCount } }",
            "query($id: String) { posts(last: 3, before: $id) { totalCount } }",
            "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount } } }",
            "mutation($id: ID!) { voteComment(input: { commentId: $id }) { comment { voteCount } } }",
            "mutation($id: ID!) { createComment(input: { postId: $id, content: \"c\" }) { comment { id } } }",
            "mutation($id: ID!) { createPost(input: { categoryId: $id, title: \"t\", content: \"c\" }) { post { id } } }",
        ][..]),
        any::<bool>(),
        auth(),
    )
        .prop_map(|(ids, many_doc, one_doc, many, auth)| {
            let case = if many {
                Case::query_vars(many_doc, json!({ "ids": ids }))
            } else {
                Case::query_vars(one_doc, json!({ "id": ids[0] }))
            };
            case.auth(auth)
        })
        .boxed()
}

/// (name, strategy, cases). The expensive ones get fewer cases so the whole run stays short.
pub(super) fn strategies(fx: &Fixture) -> Vec<(&'static str, BoxedStrategy<Case>, u32)> {
    vec![
        ("queries", queries(fx), 300),
        ("mutations", mutations(fx), 300),
        ("numbers", numbers(), 300),
        ("ids", ids(fx), 300),
        ("printable documents", printable_documents(), 300),
        ("token soup", token_soup(), 300),
        ("random bytes", random_bytes(), 300),
        ("JSON bodies", json_bodies(), 300),
        ("corrupted bodies", corrupted(fx), 300),
        ("batches", batches(fx), 300),
        ("GET", get_requests(fx), 300),
        ("aliases", many_aliases(), 100),
        ("long strings", long_strings(fx), 40),
        // Must stay last: `run_suite` runs it after everything else.
        ("deep nesting", deep(), 150),
    ]
}
