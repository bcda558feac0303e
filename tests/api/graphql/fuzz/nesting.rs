//! Nested documents and fragment bombs, run last since they may take the server down.

use super::*;

pub(super) fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    format!("{}{middle}{}", open.repeat(depth), close.repeat(depth))
}

/// `{ posts { nodes { comments { nodes { post { comments { … } } } } } } }`, `depth` levels of real fields.
pub(super) fn deep_real_fields(depth: usize) -> String {
    let mut doc = String::from("id");
    for level in (0..depth).rev() {
        doc = match level % 4 {
            0 => format!("posts(first: 1) {{ nodes {{ {doc} }} }}"),
            1 => format!("comments(first: 1) {{ nodes {{ {doc} }} }}"),
            2 => format!("post {{ {doc} }}"),
            _ => format!("author {{ {doc} }}"),
        };
    }
    format!("{{ {doc} }}")
}

pub(super) fn aliases(count: usize, field: &str) -> String {
    let body: Vec<String> = (0..count).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", body.join(" "))
}

/// F0 … F`levels`, each spreading the one below twice: 2^levels fields once expanded.
pub(super) fn fragment_bomb(levels: usize) -> String {
    let mut doc = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ viewer {{ id }} }}\n");
    for level in 1..=levels {
        let below = level - 1;
        doc.push_str(&format!(
            "fragment F{level} on Query {{ ...F{below} __typename ...F{below} }}\n"
        ));
    }
    doc
}

/// Nesting, run after the other cases: on the server as it is, some of it overflows the stack of a server
/// worker, and a stack overflow aborts the whole test process.
pub(super) fn hand_written_nesting() -> Vec<(String, Case)> {
    let mut cases: Vec<(String, Case)> = Vec::new();
    let mut add = |label: String, case: Case| cases.push((label, case));
    for depth in [12, 13, 64, 65, 200] {
        add(
            format!("{depth} levels of real fields"),
            Case::query(&deep_real_fields(depth)),
        );
    }
    for depth in [100, 1_000, 10_000, 100_000] {
        add(
            format!("{depth} nested selections"),
            Case::query(&nested("{ a ", "", "}", depth)),
        );
        add(
            format!("{depth} nested inline fragments"),
            Case::query(&nested("{ ... on Query ", "{ viewer { id } }", "}", depth)),
        );
        add(
            format!("{depth} unbalanced braces"),
            Case::query(&"{".repeat(depth)),
        );
        add(
            format!("{depth} nested JSON arrays as a variable"),
            Case::raw(format!(
                "{{\"query\":\"query($v: [ID]) {{ nodes(ids: $v) {{ id }} }}\",\"variables\":{{\"v\":{}}}}}",
                nested("[", "", "]", depth)
            )),
        );
        add(
            format!("{depth} nested JSON arrays as the body"),
            Case::raw(nested("[", "", "]", depth)),
        );
    }
    let big = 900 * 1024;
    add(
        "900 KB of opening braces".into(),
        Case::query(&"{".repeat(big)),
    );
    add(
        "900 KB of opening brackets in a literal".into(),
        Case::query(&format!("{{ nodes(ids: {}", "[".repeat(big))),
    );
    for levels in [10, 16] {
        add(
            format!("fragment bomb of {levels} levels"),
            Case::query(&fragment_bomb(levels)),
        );
    }
    // Nested literals: 269 levels of objects and 298 of lists were answered; one more overflowed the stack
    // of a server worker (debug build), which aborts the whole process.
    for depth in [
        100, 268, 269, 270, 298, 299, 300, 400, 1_000, 10_000, 100_000,
    ] {
        add(
            format!("{depth} nested list literals"),
            Case::query(&format!(
                "{{ nodes(ids: {}) {{ id }} }}",
                nested("[", "\"x\"", "]", depth)
            )),
        );
        add(
            format!("{depth} nested object literals"),
            Case::query(&format!(
                "{{ posts(search: {}) {{ totalCount }} }}",
                nested("{a: ", "1", "}", depth)
            )),
        );
    }
    cases
}

/// A fragment bomb: each level doubles the server's work (18 levels took about 2 s in a debug build, so 24
/// take minutes), and that work goes on after the client gave up. Sent last of all, since the server may
/// answer nothing after it.
pub(super) fn fragment_bombs() -> Vec<(String, Case)> {
    vec![(
        "fragment bomb of 24 levels".to_owned(),
        Case::query(&fragment_bomb(24)),
    )]
}
