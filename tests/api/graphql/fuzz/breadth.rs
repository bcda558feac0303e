//! Hand-written cases, continued: breadth (aliases, fragments, batches), long strings, ids, content types,
//! authorization headers and GET.

use super::*;

pub(super) fn breadth(fx: &Fixture, cases: &mut Vec<(String, Case)>) {
    let mut add = |label: &str, case: Case| cases.push((label.to_owned(), case));
    let viewer = "{ viewer { id } }";
    let big = 900 * 1024;

    // Breadth: aliases, fragments, batches.
    for count in [100, 1_000, 10_000, 40_000] {
        add(
            &format!("{count} aliases of __typename"),
            Case::query(&aliases(count, "__typename")),
        );
    }
    add(
        "1000 aliases of viewer",
        Case::query(&aliases(1_000, "viewer { id name }")).auth(Auth::User),
    );
    add(
        "200 aliases of posts(first: 100)",
        Case::query(&aliases(
            200,
            "posts(first: 100) { totalCount nodes { id title } }",
        )),
    );
    add(
        "50 aliases of posts(first: 100) with comments",
        Case::query(&aliases(
            50,
            "posts(first: 100) { nodes { comments(first: 100) { nodes { id } } } }",
        )),
    );
    add(
        "101 ids",
        Case::query(&format!(
            "{{ nodes(ids: [{}]) {{ id }} }}",
            (1..=101)
                .map(|i| format!("\"{}\"", b64(&format!("Post:{i}"))))
                .collect::<Vec<_>>()
                .join(",")
        )),
    );
    add(
        "100 ids, 20 aliases",
        Case::query(&aliases(
            20,
            &format!(
                "nodes(ids: [{}]) {{ id ... on Post {{ title comments(first: 100) {{ totalCount }} }} }}",
                (1..=100)
                    .map(|i| format!("\"{}\"", b64(&format!("Post:{i}"))))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )),
    );
    add(
        "10000 fragments",
        Case::query(&format!(
            "{{ ...F0 }} {}",
            (0..10_000)
                .map(|i| format!(
                    "fragment F{i} on Query {{ __typename {} }}",
                    if i < 9_999 {
                        format!("...F{}", i + 1)
                    } else {
                        String::new()
                    }
                ))
                .collect::<Vec<_>>()
                .join(" ")
        )),
    );
    for count in [0, 10, 11, 1_000, 50_000] {
        add(
            &format!("batch of {count}"),
            Case::json(&Value::Array(vec![json!({ "query": viewer }); count])),
        );
    }
    add(
        "batch of empty objects",
        Case::raw(format!("[{}]", vec!["{}"; 50_000].join(","))),
    );
    add("batch of numbers", Case::raw("[1,2,3]"));
    add(
        "batch within a batch",
        Case::raw("[[{\"query\":\"{ viewer { id } }\"}]]"),
    );
    add(
        "batch with one broken entry",
        Case::raw("[{\"query\":\"{ viewer { id } }\"},{\"query\":5}]"),
    );
    add(
        "batch of 10 heavy queries",
        Case::json(&Value::Array(vec![
            json!({ "query": aliases(50, "posts(first: 100) { nodes { id } }") });
            10
        ])),
    );
    add(
        "batch of 10 mutations",
        Case::json(&Value::Array(vec![
            json!({
                "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "login": "hostile_user", "password": "wrong-password" } },
            });
            10
        ])),
    );

    // Long strings, below and above the body limit.
    for (label, size) in [
        ("900 KB", big),
        ("just under 1 MiB", MIB - 200),
        ("1 MiB + 1", MIB + 1),
        ("2 MiB", 2 * MIB),
    ] {
        let text = "x".repeat(size);
        add(
            &format!("{label} search variable"),
            Case::query_vars(
                "query($s: String) { posts(search: $s) { totalCount } }",
                json!({ "s": text }),
            ),
        );
        add(&format!("{label} garbage query"), Case::query(&text));
        add(
            &format!("{label} string literal"),
            Case::query(&format!("{{ user(name: \"{text}\") {{ id }} }}")),
        );
        add(
            &format!("{label} operationName"),
            Case::json(&json!({ "query": viewer, "operationName": text })),
        );
        add(
            &format!("{label} of spaces around a query"),
            Case::query(&format!("{text}{viewer}").replace('x', " ")),
        );
        add(
            &format!("{label} post content"),
            Case::query_vars(
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "categoryId": fx.category_id, "title": "long", "content": text } }),
            )
            .auth(Auth::User),
        );
    }
    add("900 KB of Korean in a title", Case::query_vars(
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
        json!({ "i": { "categoryId": fx.category_id, "title": "한".repeat(big / 3), "content": "x" } }),
    ).auth(Auth::User));
    add(
        "900 KB of NUL in a variable",
        Case::query_vars(
            "query($s: String) { posts(search: $s) { totalCount } }",
            json!({ "s": "\0".repeat(big / 6) }),
        ),
    );
    add(
        "900 KB of escaped quotes",
        Case::query(&format!(
            "{{ user(name: \"{}\") {{ id }} }}",
            "\\\"".repeat(big / 2)
        )),
    );
    add(
        "900 KB password",
        Case::query_vars(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "login": "hostile_user", "password": "p".repeat(big) } }),
        ),
    );
    add(
        "900 KB sign-up",
        Case::query_vars(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "name": "n".repeat(big / 3), "email": format!("{}@example.com", "e".repeat(big / 3)), "password": "p".repeat(big / 3) } }),
        ),
    );

    // Ids.
    let post = |text: &str| b64(text);
    for id in [
        post("Post:9223372036854775807"),
        post("Post:-9223372036854775808"),
        post("Post:9223372036854775808"),
        post("Post:0"),
        post("Post:-1"),
        post("Post:1e3"),
        post("Post: 1"),
        post("Post:1\0"),
        post("Post:1 OR 1=1"),
        post("Post:1;--"),
        post("Post:"),
        post(":1"),
        post("Post"),
        post("Comment:1"),
        post("\u{0}:1"),
        format!("  {}  ", post("Post:1")),
        post("Post:1").trim_end_matches('=').to_owned(),
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00, 0x3a, 0x31]),
        "====".into(),
        "%%%%".into(),
        String::new(),
        "x".repeat(100_000),
        post(&format!("Post:{}", "9".repeat(10_000))),
    ] {
        add(
            &format!("post(id: {})", preview(id.as_bytes(), 40)),
            Case::query_vars(
                "query($id: ID!) { post(id: $id) { id } node(id: $id) { id } comment(id: $id) { id } category(id: $id) { id } }",
                json!({ "id": id }),
            ),
        );
        add(
            &format!("votePost({})", preview(id.as_bytes(), 40)),
            Case::query_vars(
                "mutation($i: VotePostInput!) { votePost(input: $i) { post { voteCount } } }",
                json!({ "i": { "postId": id } }),
            )
            .auth(Auth::User),
        );
    }

    // Content types and authorization headers.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=utf-16"),
        Some("application/graphql-response+json"),
        Some("application/jsonx"),
        Some("application/graphql"),
        Some(""),
        Some("application/json, text/plain"),
    ] {
        add(
            &format!("content type {content_type:?}"),
            Case::query(viewer).content_type(content_type),
        );
    }
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer  ".to_owned(),
        "Basic YWRtaW46YWRtaW4=".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.".to_owned(),
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiInIE9SIDE9MSAtLSIsImV4cCI6OTk5OTk5OTk5OTl9.x"
            .to_owned(),
        format!("Bearer {}x", fx.user_token),
        format!("bearer {}", fx.user_token),
        format!("Bearer {} {}", fx.user_token, fx.user_token),
        format!("Bearer {}", "A".repeat(8_000)),
        "Bearer ' OR 1=1 --".to_owned(),
    ] {
        add(
            &format!("authorization {}", preview(value.as_bytes(), 60)),
            Case::query(viewer).auth(Auth::Raw(value)),
        );
    }

    // GET.
    for query in [
        String::new(),
        "query=".into(),
        "query=%FF%FE".into(),
        "query=%00".into(),
        "query=%".into(),
        "query=%zz".into(),
        "query={viewer{id}}&variables=not-json".into(),
        "query={viewer{id}}&variables=%FF".into(),
        "query={viewer{id}}&variables=[]".into(),
        "query={viewer{id}}&operationName=%00".into(),
        "variables={\"a\":1}".into(),
        "query={viewer{id}}&query={categories{id}}".into(),
        url_encode(&[(
            "query",
            "mutation { logout(input: {refreshToken: \"x\"}) { success } }",
        )]),
        url_encode(&[
            (
                "query",
                "query Q { viewer { id } } mutation M { logout(input: {refreshToken: \"x\"}) { success } }",
            ),
            ("operationName", "M"),
        ]),
        url_encode(&[("query", &aliases(2_000, "__typename"))]),
        url_encode(&[("query", &nested("{ a ", "", "}", 2_000))]),
        url_encode(&[(
            "query",
            "{ posts(search: \"' OR 1=1 --\", first: 1e40) { totalCount } }",
        )]),
        "&&&&==&=&".into(),
    ] {
        add(
            &format!("GET {}", preview(query.as_bytes(), 60)),
            Case::get(query),
        );
    }
}
