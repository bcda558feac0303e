//! Raw HTTP cases: bytes that reqwest would not send (chunked bodies, odd heads).

use super::*;

pub(super) fn raw_http_cases(fx: &Fixture) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let head = |extra: &str| -> Vec<u8> {
        format!("POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n")
            .into_bytes()
    };
    let small = br#"{"query":"{ viewer { id } }"}"#.to_vec();
    let oversized = serde_json::to_vec(
        &json!({ "query": "{ viewer { id } }", "variables": { "pad": "x".repeat(2 * MIB) } }),
    )
    .unwrap();
    let allowed = serde_json::to_vec(
        &json!({ "query": "{ viewer { id } }", "variables": { "pad": "x".repeat(900 * 1024) } }),
    )
    .unwrap();
    let with_bytes = |name: &[u8], value: &[u8]| -> Vec<u8> {
        let mut h = head(&format!("Content-Length: {}\r\n", small.len()));
        let at = h.len() - 2;
        let mut line = name.to_vec();
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
        line.extend_from_slice(b"\r\n");
        h.splice(at..at, line);
        h
    };
    let token = fx.user_token.as_bytes();
    let mut cases = vec![
        (
            "chunked 2 MiB body".to_owned(),
            head("Transfer-Encoding: chunked\r\n"),
            chunked(&oversized, 64 * 1024),
        ),
        (
            "chunked 900 KB body".to_owned(),
            head("Transfer-Encoding: chunked\r\n"),
            chunked(&allowed, 64 * 1024),
        ),
        (
            "chunked small body, 1-byte chunks".to_owned(),
            head("Transfer-Encoding: chunked\r\n"),
            chunked(&small, 1),
        ),
        (
            "declares 2 MiB, sends a few bytes".to_owned(),
            head(&format!("Content-Length: {}\r\n", 2 * MIB)),
            small.clone(),
        ),
        (
            "0xff in x-request-id".to_owned(),
            with_bytes(b"x-request-id", b"\xff\xfe"),
            small.clone(),
        ),
        (
            "0xff in the bearer token".to_owned(),
            with_bytes(b"Authorization", b"Bearer \xff\xfe"),
            small.clone(),
        ),
        (
            "0xff in the content type".to_owned(),
            {
                let mut h = format!("POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", small.len()).into_bytes();
                h.extend_from_slice(b"Content-Type: application/json\xff\r\n\r\n");
                h
            },
            small.clone(),
        ),
        (
            "two Authorization headers".to_owned(),
            {
                let mut h = with_bytes(b"Authorization", b"Bearer x");
                let at = h.len() - 2;
                let mut line = b"Authorization: Bearer ".to_vec();
                line.extend_from_slice(token);
                line.extend_from_slice(b"\r\n");
                h.splice(at..at, line);
                h
            },
            small.clone(),
        ),
        (
            "8 KB x-request-id".to_owned(),
            with_bytes(b"x-request-id", "r".repeat(8_000).as_bytes()),
            small.clone(),
        ),
    ];
    cases.push((
        "HTTP/1.0 without a length".to_owned(),
        b"POST /graphql HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n\r\n"
            .to_vec(),
        Vec::new(),
    ));
    cases
}
