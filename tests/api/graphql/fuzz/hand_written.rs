//! Hand-written cases: documents, variables, tokens and bodies that a generator would rarely produce.

use super::*;

pub(super) fn hand_written(fx: &Fixture) -> Vec<(String, Case)> {
    let mut cases: Vec<(String, Case)> = Vec::new();
    let mut add = |label: &str, case: Case| cases.push((label.to_owned(), case));
    let viewer = "{ viewer { id } }";

    // Bodies that are not GraphQL requests.
    add("empty body", Case::raw(Vec::new()));
    add("whitespace body", Case::raw(" \n\t "));
    for body in [
        "null",
        "1",
        "-1e400",
        "\"text\"",
        "true",
        "[]",
        "[[]]",
        "{}",
        "[1,2]",
        "[null]",
        "[{}]",
        "{\"query\":null}",
        "{\"query\":1}",
        "{\"query\":[\"{ viewer { id } }\"]}",
        "{\"query\":{}}",
        "{\"query\":\"\"}",
        "{\"query\":\" \"}",
        "{\"query\":\"#\"}",
        "{\"variables\":{}}",
        "{\"operationName\":\"x\"}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":\"not an object\"}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":[]}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":1}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":null}",
        "{\"query\":\"{ viewer { id } }\",\"operationName\":5}",
        "{\"query\":\"{ viewer { id } }\",\"operationName\":\"Missing\"}",
        "{\"query\":\"{ viewer { id } }\",\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"abc\"}}}",
        "{\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38\"}}}",
        "{\"query\":\"{ viewer { id } }\",\"extensions\":\"x\"}",
        "{",
        "}",
        "[",
        "{\"query\":\"{ viewer { id } }\"",
        "{\"query\": \"\\u12\"}",
        "{\"query\": \"\\ud800\"}",
        "{\"query\": \"\\udc00\\ud800\"}",
        "{\"query\":\"{ viewer { id } }\"}xyz",
        "{\"query\":\"{ viewer { id } }\"}{\"query\":\"{ viewer { id } }\"}",
        "{\"query\":\"a\",\"query\":\"{ viewer { id } }\"}",
        "/* comment */ {\"query\":\"{ viewer { id } }\"}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":{\"a\":NaN}}",
        "{\"query\":\"{ viewer { id } }\",\"variables\":{\"a\":Infinity}}",
        "{'query':'{ viewer { id } }'}",
        "{\"query\":\"{ viewer { id } }\",}",
        "\u{feff}{\"query\":\"{ viewer { id } }\"}",
    ] {
        add(&format!("body {body:?}"), Case::raw(body));
    }

    // Invalid UTF-8 and NUL bytes.
    for (label, bytes) in [
        ("0xff 0xfe in the query", b"{\"query\":\"\xff\xfe\"}".to_vec()),
        ("overlong '/' in the query", b"{\"query\":\"{ viewer { id } } \xc0\xaf\"}".to_vec()),
        ("UTF-8 surrogate in the query", b"{\"query\":\"\xed\xa0\x80\"}".to_vec()),
        ("truncated sequence in the query", b"{\"query\":\"{ user(name: \\\"\xe2\x82\\\") { id } }\"}".to_vec()),
        ("0xff in a variable", b"{\"query\":\"query($s: String) { posts(search: $s) { totalCount } }\",\"variables\":{\"s\":\"\xff\"}}".to_vec()),
        ("0xff in operationName", b"{\"query\":\"{ viewer { id } }\",\"operationName\":\"\xff\"}".to_vec()),
        ("0xff in a key", b"{\"query\":\"{ viewer { id } }\",\"\xff\":1}".to_vec()),
        ("0xff outside strings", b"{\"query\":\"{ viewer { id } }\"\xff}".to_vec()),
        ("raw NUL inside a JSON string", b"{\"query\":\"{ viewer\x00 { id } }\"}".to_vec()),
        ("raw NUL outside strings", b"{\"query\":\"{ viewer { id } }\"\x00}".to_vec()),
        ("NUL bytes only", vec![0u8; 1000]),
        ("0xff bytes only", vec![0xffu8; 1000]),
        ("UTF-16 body", "{\"query\":\"{ viewer { id } }\"}".encode_utf16().flat_map(u16::to_le_bytes).collect()),
        ("UTF-32-like body", "{\"query\":\"{ viewer { id } }\"}".bytes().flat_map(|b| [b, 0, 0, 0]).collect()),
    ] {
        add(label, Case::raw(bytes));
    }
    add(
        "escaped NUL in the document",
        Case::query("{ viewer\u{0} { id } }"),
    );
    add(
        "escaped NUL in a string literal",
        Case::query("{ user(name: \"a\\u0000b\") { id } }"),
    );
    add(
        "NUL in a search variable",
        Case::query_vars(
            "query($s: String) { posts(search: $s) { totalCount } }",
            json!({ "s": "a\0b" }),
        ),
    );
    add(
        "NUL in a variable name",
        Case::query_vars(viewer, json!({ "a\0b": 1 })),
    );
    add(
        "NUL in sign-up fields",
        Case::query_vars(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "name": "nul\0name", "email": "nul\0@example.com", "password": "pass\0word-123" } }),
        ),
    );
    add(
        "NUL in a login",
        Case::query_vars(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "login": "hostile_user\0", "password": "hostile-password\0" } }),
        ),
    );
    add(
        "NUL in a post",
        Case::query_vars(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title content } } }",
            json!({ "i": { "categoryId": fx.category_id, "title": "nul\0title", "content": "\0\0\0" } }),
        )
        .auth(Auth::User),
    );
    add(
        "NUL in a comment",
        Case::query_vars(
            "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id content } } }",
            json!({ "i": { "postId": fx.post_id, "content": "\0" } }),
        )
        .auth(Auth::User),
    );
    add(
        "search for NUL",
        Case::query("{ posts(search: \"\\u0000\") { totalCount nodes { title } } }"),
    );

    // SQL meta-characters where they reach the database.
    for meta in SQL_META {
        add(
            &format!("search {meta:?}"),
            Case::query_vars(
                "query($s: String) { posts(search: $s, first: 5) { totalCount nodes { id } } }",
                json!({ "s": meta }),
            ),
        );
        add(
            &format!("user name {meta:?}"),
            Case::query_vars(
                "query($n: String!) { user(name: $n) { id } }",
                json!({ "n": meta }),
            ),
        );
        add(
            &format!("login {meta:?}"),
            Case::query_vars(
                "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                json!({ "i": { "login": format!("hostile_user{meta}"), "password": meta } }),
            ),
        );
        add(
            &format!("sign-up email {meta:?}"),
            Case::query_vars(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                json!({ "i": { "name": "meta_user", "email": format!("a{meta}b@example.com"), "password": "password-123" } }),
            ),
        );
        add(
            &format!("post titled {meta:?}"),
            Case::query_vars(
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }",
                json!({ "i": { "categoryId": fx.category_id, "title": format!("t{meta}"), "content": meta } }),
            )
            .auth(Auth::User),
        );
        add(
            &format!("cursor {meta:?}"),
            Case::query_vars(
                "query($c: String) { posts(first: 2, after: $c) { totalCount } }",
                json!({ "c": b64(meta) }),
            ),
        );
    }

    // Numbers out of range, literal and in variables.
    for number in NUMBER_TEXT {
        add(
            &format!("first: {number} literal"),
            Case::query(&format!("{{ posts(first: {number}) {{ totalCount }} }}")),
        );
        add(
            &format!("first: {number} variable"),
            Case::raw(format!(
                "{{\"query\":\"query($n: Int) {{ posts(first: $n) {{ totalCount }} }}\",\"variables\":{{\"n\":{number}}}}}"
            )),
        );
        add(
            &format!("last: {number} with before"),
            Case::query(&format!(
                "{{ posts(last: {number}, before: \"eA==\") {{ totalCount }} }}"
            )),
        );
    }
    add(
        "Int as a string",
        Case::query_vars(
            "query($n: Int) { posts(first: $n) { totalCount } }",
            json!({ "n": "10" }),
        ),
    );
    add(
        "first and last together",
        Case::query("{ posts(first: 5, last: 5) { totalCount } }"),
    );
    add(
        "comments(first: -2147483648)",
        Case::query(&format!(
            "{{ post(id: \"{}\") {{ comments(first: -2147483648) {{ totalCount }} }} }}",
            fx.post_id
        )),
    );

    // Wrong types for variables, undeclared and unknown things.
    for value in [
        json!({}),
        json!([]),
        json!(true),
        json!(1.5),
        json!(null),
        json!([[["x"]]]),
        json!({ "id": "x" }),
    ] {
        add(
            &format!("ID! given {value}"),
            Case::query_vars(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": value }),
            ),
        );
        add(
            &format!("SignUpInput! given {value}"),
            Case::query_vars(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                json!({ "i": value }),
            ),
        );
    }
    add(
        "SignUpInput given a string",
        Case::query_vars(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": "name=x&password=y" }),
        ),
    );
    for (label, doc) in [
        ("undeclared variable", "{ node(id: $id) { id } }"),
        ("unknown variable type", "query($v: Nope) { viewer { id } }"),
        (
            "output type as variable type",
            "query($v: Post) { viewer { id } }",
        ),
        (
            "duplicate variable",
            "query($v: ID, $v: Int) { viewer { id } }",
        ),
        ("unused variable", "query($v: ID) { viewer { id } }"),
        ("unknown field", "{ viewer { password passwordHash } }"),
        ("unknown argument", "{ posts(sql: \"1=1\") { totalCount } }"),
        ("unknown root field", "{ users { id } }"),
        ("unknown mutation", "mutation { dropTables }"),
        ("subscription", "subscription { posts { id } }"),
        ("unknown directive", "{ viewer @nope { id } }"),
        (
            "directive in the wrong place",
            "query @include(if: true) { viewer { id } }",
        ),
        (
            "fragment on an unknown type",
            "{ ...F } fragment F on Nope { id }",
        ),
        ("undefined fragment", "{ ...Missing }"),
        (
            "unused fragment",
            "{ viewer { id } } fragment F on Query { viewer { id } }",
        ),
        (
            "fragment cycle",
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        ),
        (
            "self-spreading fragment",
            "{ ...A } fragment A on Query { viewer { id } ...A }",
        ),
        (
            "two anonymous operations",
            "{ viewer { id } } { categories { id } }",
        ),
        (
            "two operations of one name",
            "query A { viewer { id } } query A { categories { id } }",
        ),
        ("selection on a scalar", "{ viewer { id { x } } }"),
        ("object without selection", "{ viewer }"),
        (
            "enum as string",
            "{ posts(orderBy: \"NEWEST\") { totalCount } }",
        ),
        ("unknown enum", "{ posts(orderBy: RANDOM) { totalCount } }"),
        ("int as id", "{ node(id: 1) { id } }"),
        ("null for a non-null argument", "{ node(id: null) { id } }"),
        (
            "conflicting aliases",
            "{ a: viewer { id } a: categories { id } }",
        ),
        (
            "introspection",
            "{ __schema { types { name fields { name args { name type { name kind ofType { name } } } } } } }",
        ),
        ("__type of nothing", "{ __type(name: \"\") { name } }"),
        (
            "1000 directives",
            &format!(
                "{{ viewer {} {{ id }} }}",
                "@include(if: true) ".repeat(1000)
            ),
        ),
        (
            "many arguments",
            &format!(
                "{{ posts({}) {{ totalCount }} }}",
                (0..1000)
                    .map(|i| format!("a{i}: {i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("empty selection", "{ }"),
        ("only a comment", "# nothing here"),
        (
            "block string",
            "{ user(name: \"\"\"\n  a\\\"\"\"b\n\"\"\") { id } }",
        ),
        ("unterminated string", "{ user(name: \"abc) { id } }"),
        (
            "bad escape",
            "{ user(name: \"\\q\\u{1F980}\\uZZZZ\") { id } }",
        ),
        (
            "mutation named by operationName over a query",
            "query Q { viewer { id } } mutation M { logout(input: {refreshToken: \"x\"}) { success } }",
        ),
    ] {
        add(label, Case::query(doc));
    }
    add(
        "operationName picks a mutation",
        Case::json(&json!({
            "query": "query Q { viewer { id } } mutation M { logout(input: {refreshToken: \"x\"}) { success } }",
            "operationName": "M",
        })),
    );
    breadth(fx, &mut cases);
    cases
}
