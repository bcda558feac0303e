//! Hostile input: generated and hand-written GraphQL documents, variables and raw bodies thrown at a real
//! server over HTTP. Whatever comes in, the server must answer without a 5xx, with a JSON body, with every
//! error carrying a documented `extensions.code` other than `INTERNAL`, and must stay healthy.
//!
//! The generated cases come from proptest strategies driven by hand (`TestRunner` + `new_tree`) from an
//! async loop; the first failing case of each strategy is shrunk the same way before it is reported.
//! The server runs on a tokio runtime of its own and the cases are sent from another, so a request that
//! keeps a server worker busy cannot stall the client's timeouts, and the test can end without waiting
//! for it. Every failure is printed the moment it is seen, since a stack overflow in the server aborts
//! the whole process; the cases most likely to do that run last.
//!
//! `HOSTILE_SEED=<n>` replays a run (the seed is printed), `HOSTILE_ONLY=<phase>` runs only the phases
//! whose name contains it, `HOSTILE_VERBOSE=1` prints every case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Backend, TestApp};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::{BoxedStrategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The codes an error may carry; `INTERNAL` is deliberately absent.
const ALLOWED_CODES: [&str; 11] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "QUERY_TOO_COMPLEX",
    "PAYLOAD_TOO_LARGE",
    "SERVICE_UNAVAILABLE",
    // Persisted operations: a hash the server does not know (the client retries with the text), and a text
    // that trusted-documents mode does not list.
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_ALLOWED",
];

const MIB: usize = 1024 * 1024;
/// Longer than any request should take; a request that needs more counts as a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const HEALTH_EVERY: usize = 50;
/// Answers slower than this are listed (they are not failures).
const SLOW: Duration = Duration::from_secs(2);
/// Shrinking stops after this many steps or this long.
const SHRINK_STEPS: usize = 64;
const SHRINK_TIME: Duration = Duration::from_secs(20);

const SQL_META: &[&str] = &[
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE user; --",
    "\" OR \"\"=\"",
    "%",
    "_",
    "\\",
    ";",
    "%_%",
    "\\%",
    "\\_",
    "\\\\",
    "%%%%%%%%",
    "' UNION SELECT password_hash FROM user --",
    "' OR SLEEP(5) --",
    "1; SELECT 1",
    "`",
    "/*",
    "*/",
    "--",
    "\0",
    "\u{0}' OR 1=1 --",
    "'||(SELECT 1)||'",
    "%' AND '%'='",
    "[a-z]",
    "*",
    "?",
    "$1",
    "%s%s%s%n",
];

/// Number literals, many out of range for `Int` (32-bit) or for any integer.
const NUMBER_TEXT: &[&str] = &[
    "1e40",
    "-1e40",
    "1e400",
    "-9223372036854775808",
    "-9223372036854775809",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967296",
    "0",
    "-0",
    "00",
    "0.0",
    "1.5",
    "-1",
    "1E2",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "99999999999999999999999999999999999999999999999999",
];

const ID_KINDS: &[&str] = &[
    "Post",
    "User",
    "Comment",
    "Category",
    "post",
    "",
    "Node",
    "Post:Post",
    "LoginEvent",
    " Post",
];

const VAR_TYPES: &[&str] = &[
    "ID",
    "ID!",
    "String",
    "String!",
    "Int",
    "Int!",
    "Float",
    "Boolean",
    "[ID!]!",
    "[ID]",
    "[[Int]]",
    "PostOrder",
    "Role",
    "DateTime",
    "SignUpInput",
    "CreatePostInput!",
    "Bogus",
    "Post",
];

/// (field, arguments, selection) of the query root, plus a few that do not exist.
const ROOT_FIELDS: &[(&str, &[&str], &str)] = &[
    ("viewer", &[], "{ id name email role isBlocked }"),
    (
        "user",
        &["name"],
        "{ id name posts(first: 2) { totalCount } }",
    ),
    (
        "node",
        &["id"],
        "{ id ... on Post { title content } ... on User { name } ... on Category { name } }",
    ),
    ("nodes", &["ids"], "{ id }"),
    ("categories", &[], "{ id name tier children { id name } }"),
    (
        "category",
        &["id"],
        "{ id name posts(first: 3) { totalCount nodes { id } } }",
    ),
    (
        "posts",
        &[
            "categoryId",
            "authorId",
            "search",
            "orderBy",
            "first",
            "after",
            "last",
            "before",
        ],
        "{ totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id title commentCount voteCount viewerHasVoted } } }",
    ),
    (
        "post",
        &["id"],
        "{ id title content version revisions { version title } comments(first: 5) { totalCount nodes { id content } } }",
    ),
    (
        "comment",
        &["id"],
        "{ id content version post { id } author { name } }",
    ),
    ("nope", &["x"], ""),
    ("__typename", &[], ""),
    ("__type", &["name"], "{ name fields { name } }"),
];

/// (field, input type, input fields, selection) of the mutation root.
const MUTATIONS: &[(&str, &str, &[&str], &str)] = &[
    (
        "signUp",
        "SignUpInput!",
        &["name", "email", "password"],
        "{ accessToken user { id name } }",
    ),
    (
        "login",
        "LoginInput!",
        &["login", "password"],
        "{ accessToken }",
    ),
    (
        "refreshToken",
        "RefreshTokenInput!",
        &["refreshToken"],
        "{ accessToken }",
    ),
    ("logout", "LogoutInput!", &["refreshToken"], "{ success }"),
    (
        "updateProfile",
        "UpdateProfileInput!",
        &["name", "email"],
        "{ user { id name } }",
    ),
    (
        "changePassword",
        "ChangePasswordInput!",
        &["currentPassword", "newPassword"],
        "{ accessToken }",
    ),
    ("resign", "ResignInput!", &["password"], "{ user { id } }"),
    (
        "createPost",
        "CreatePostInput!",
        &["categoryId", "title", "content"],
        "{ post { id title version } }",
    ),
    (
        "updatePost",
        "UpdatePostInput!",
        &["postId", "title", "content"],
        "{ post { id version } }",
    ),
    (
        "deletePost",
        "DeletePostInput!",
        &["postId"],
        "{ deletedId }",
    ),
    (
        "createComment",
        "CreateCommentInput!",
        &["postId", "content"],
        "{ comment { id } }",
    ),
    (
        "updateComment",
        "UpdateCommentInput!",
        &["commentId", "content"],
        "{ comment { id version } }",
    ),
    (
        "deleteComment",
        "DeleteCommentInput!",
        &["commentId"],
        "{ deletedId }",
    ),
    (
        "votePost",
        "VotePostInput!",
        &["postId"],
        "{ post { voteCount } }",
    ),
    (
        "unvotePost",
        "VotePostInput!",
        &["postId"],
        "{ post { voteCount } }",
    ),
    (
        "voteComment",
        "VoteCommentInput!",
        &["commentId"],
        "{ comment { voteCount } }",
    ),
    (
        "createCategory",
        "CreateCategoryInput!",
        &["name", "parentId"],
        "{ category { id tier } }",
    ),
    (
        "updateCategory",
        "UpdateCategoryInput!",
        &["categoryId", "name", "parentId"],
        "{ category { id tier } }",
    ),
    (
        "blockUser",
        "BlockUserInput!",
        &["userId", "detail"],
        "{ user { id isBlocked } }",
    ),
    (
        "setUserRole",
        "SetUserRoleInput!",
        &["userId", "role"],
        "{ user { id role } }",
    ),
];

/// Pieces that random documents are glued from.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$v",
    "$",
    "...",
    "..",
    "@include(if: true)",
    "@skip(if: $v)",
    "@deprecated",
    "!",
    "=",
    "|",
    "&",
    ",",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "F",
    "on",
    "Query",
    "Post",
    "User",
    "viewer",
    "posts",
    "post",
    "node",
    "nodes",
    "id",
    "title",
    "content",
    "comments",
    "edges",
    "first:",
    "search:",
    "input:",
    "ids:",
    "10",
    "-1",
    "1e40",
    "\"x\"",
    "\"\"\"block\"\"\"",
    "\"unterminated",
    "null",
    "true",
    "__typename",
    "__schema",
    "signUp",
    "#comment\n",
    "\u{feff}",
    "\0",
    "\"",
    "\\",
    "'",
    "\u{2028}",
    "한글",
    "🦀",
];

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Auth {
    Anonymous,
    User,
    Admin,
    /// A raw `Authorization` value.
    Raw(String),
}

#[derive(Clone)]
enum Request {
    Post {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The raw query string after `/graphql?`.
    Get { query: String },
}

#[derive(Clone)]
struct Case {
    request: Request,
    auth: Auth,
}

/// At most `max` bytes of `bytes`, escaped, with the full length when cut.
fn preview(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let text = format!("{:?}", String::from_utf8_lossy(cut));
    if bytes.len() > max {
        format!("{text}… ({} bytes in all)", bytes.len())
    } else {
        text
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.request {
            Request::Post { content_type, body } => {
                write!(
                    f,
                    "POST /graphql content-type={content_type:?} auth={:?} ",
                    self.auth
                )?;
                if body.iter().any(|b| *b >= 0x80) && std::str::from_utf8(body).is_err() {
                    write!(f, "(invalid UTF-8) ")?;
                }
                write!(f, "body={}", preview(body, 600))
            }
            Request::Get { query } => write!(
                f,
                "GET /graphql?{} auth={:?}",
                preview(query.as_bytes(), 600),
                self.auth
            ),
        }
    }
}

impl Case {
    fn raw(body: impl Into<Vec<u8>>) -> Self {
        Self {
            request: Request::Post {
                content_type: Some("application/json".into()),
                body: body.into(),
            },
            auth: Auth::Anonymous,
        }
    }

    fn json(body: &Value) -> Self {
        Self::raw(serde_json::to_vec(body).unwrap())
    }

    fn query(document: &str) -> Self {
        Self::json(&json!({ "query": document }))
    }

    fn query_vars(document: &str, variables: Value) -> Self {
        Self::json(&json!({ "query": document, "variables": variables }))
    }

    fn get(query: impl Into<String>) -> Self {
        Self {
            request: Request::Get {
                query: query.into(),
            },
            auth: Auth::Anonymous,
        }
    }

    fn content_type(mut self, value: Option<&str>) -> Self {
        if let Request::Post { content_type, .. } = &mut self.request {
            *content_type = value.map(str::to_owned);
        }
        self
    }

    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
}

fn gql_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A JSON value written as a GraphQL input literal.
fn gql_literal_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => gql_string(s),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(gql_literal_of)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}: {}", gql_literal_of(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

// ---------------------------------------------------------------------------
// The server's answer
// ---------------------------------------------------------------------------

/// What an acceptable answer was: its status and, per operation, `ok` or its error codes.
struct Answer {
    status: StatusCode,
    outcomes: Vec<String>,
}

/// Checks one answer; `Err` describes what is wrong with it.
fn check(status: StatusCode, bytes: &[u8]) -> Result<Answer, String> {
    let seen = || format!("status {status}, body {}", preview(bytes, 800));
    if status.is_server_error() {
        return Err(format!("a 5xx: {}", seen()));
    }
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the body is not JSON ({e}): {}", seen()))?;
    let responses: Vec<&Value> = match &body {
        Value::Array(list) if !list.is_empty() => list.iter().collect(),
        Value::Object(_) => vec![&body],
        _ => {
            return Err(format!(
                "the body is neither an object nor a batch: {}",
                seen()
            ));
        }
    };
    let mut outcomes = Vec::new();
    for response in responses {
        let Some(object) = response.as_object() else {
            return Err(format!("a batch entry is not an object: {}", seen()));
        };
        match object.get("errors") {
            None if !status.is_success() => {
                return Err(format!("status {status} without errors: {}", seen()));
            }
            None => outcomes.push("ok".to_owned()),
            Some(Value::Array(errors)) => {
                if errors.is_empty() && !status.is_success() {
                    return Err(format!("status {status} with no error: {}", seen()));
                }
                for error in errors {
                    match error.pointer("/extensions/code").and_then(Value::as_str) {
                        Some(code) if ALLOWED_CODES.contains(&code) => {
                            outcomes.push(code.to_owned());
                        }
                        Some(code) => {
                            return Err(format!("an error with code {code}: {}", seen()));
                        }
                        None => return Err(format!("an error without a code: {}", seen())),
                    }
                }
            }
            Some(_) => return Err(format!("`errors` is not a list: {}", seen())),
        }
    }
    Ok(Answer { status, outcomes })
}

// ---------------------------------------------------------------------------
// The fixture: a user, an admin and some real ids
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Fixture {
    user_token: String,
    admin_token: String,
    /// Real ids of categories, a post and a comment (never deleted by the generated cases).
    ids: Vec<String>,
    category_id: String,
    post_id: String,
}

impl Fixture {
    async fn new(app: &TestApp) -> Self {
        let user = app
            .sign_up("hostile_user", "hostile@example.com", "hostile-password")
            .await;
        let admin = app.admin().await;
        let data = app
            .ok("{ categories { id children { id } } }", json!({}), None)
            .await;
        let mut ids = Vec::new();
        for root in data["categories"].as_array().unwrap() {
            ids.push(root["id"].as_str().unwrap().to_owned());
            for child in root["children"].as_array().unwrap() {
                ids.push(child["id"].as_str().unwrap().to_owned());
            }
        }
        let category_id = ids.last().unwrap().clone();
        let post = app
            .ok(
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "categoryId": category_id, "title": "fixture", "content": "fixture post" } }),
                Some(&user.access),
            )
            .await;
        let post_id = post["createPost"]["post"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let comment = app
            .ok(
                "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
                json!({ "i": { "postId": post_id, "content": "fixture comment" } }),
                Some(&user.access),
            )
            .await;
        ids.push(post_id.clone());
        ids.push(
            comment["createComment"]["comment"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        Self {
            user_token: user.access,
            admin_token: admin.access,
            ids,
            category_id,
            post_id,
        }
    }
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// Where the cases go: the server's address and a client living in the runtime that sends the cases (not
/// the server's, so a stuck server worker cannot stall the client's timeouts).
struct Target {
    base: String,
    client: reqwest::Client,
}

fn expects_continue(head: &[u8]) -> bool {
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("\r\nexpect: 100-continue\r\n")
}

/// Bodies above the limit go out by hand with `Expect: 100-continue`: the server answers 413 without
/// reading them, and a client that kept writing would see a broken pipe instead of that answer.
async fn send_oversized(
    target: &Target,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Answer, String> {
    let mut head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(value) = content_type {
        head.push_str(&format!("Content-Type: {value}\r\n"));
    }
    if let Some(value) = authorization {
        head.push_str(&format!("Authorization: {value}\r\n"));
    }
    head.push_str("\r\n");
    let (status, bytes) = raw_exchange(target, head.as_bytes(), body).await?;
    check(status, &bytes)
}

async fn send(target: &Target, fx: &Fixture, case: &Case) -> Result<Answer, String> {
    let authorization = match &case.auth {
        Auth::Anonymous => None,
        Auth::User => Some(format!("Bearer {}", fx.user_token)),
        Auth::Admin => Some(format!("Bearer {}", fx.admin_token)),
        Auth::Raw(value) => Some(value.clone()),
    }
    .filter(|v| HeaderValue::from_str(v).is_ok());
    if let Request::Post { content_type, body } = &case.request
        && body.len() > MIB
    {
        return send_oversized(
            target,
            content_type.as_deref(),
            authorization.as_deref(),
            body,
        )
        .await;
    }
    let client = &target.client;
    let mut request = match &case.request {
        Request::Post { content_type, body } => {
            let mut request = client
                .post(format!("{}/graphql", target.base))
                .body(body.clone());
            if let Some(value) = content_type {
                request = request.header(CONTENT_TYPE, value);
            }
            request
        }
        Request::Get { query } => client.get(format!("{}/graphql?{query}", target.base)),
    };
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("status {status}, the body could not be read: {e:?}"))?;
    check(status, &bytes)
}

async fn healthy(target: &Target) -> Result<(), String> {
    let started = Instant::now();
    let response = target
        .client
        .get(format!("{}/healthz", target.base))
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("/healthz did not answer within {HEALTH_TIMEOUT:?}: {e:?}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("/healthz answered {}", response.status()));
    }
    if started.elapsed() > HEALTH_TIMEOUT {
        return Err(format!("/healthz took {:?}", started.elapsed()));
    }
    Ok(())
}

/// One HTTP/1.1 exchange written by hand (chunked bodies, bytes reqwest would not send), with
/// `Connection: close`; answers the status and the (de-chunked) body.
async fn raw_exchange(
    target: &Target,
    head: &[u8],
    body: &[u8],
) -> Result<(StatusCode, Vec<u8>), String> {
    let address = target.base.trim_start_matches("http://");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut answer = Vec::new();
        if stream.write_all(head).await.is_ok() {
            if expects_continue(head) {
                // Wait for `100 Continue` (the body is wanted) or a final answer (it is not).
                let mut buf = [0u8; 4096];
                while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                    }
                }
                if answer.starts_with(b"HTTP/1.1 100") {
                    let end = answer
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .unwrap_or(0);
                    answer.drain(..end + 4);
                    let _ = stream.write_all(body).await;
                }
            } else {
                // The server may answer (413) and close before reading everything: a failed write is fine.
                let _ = stream.write_all(body).await;
            }
        }
        let read = stream.read_to_end(&mut answer).await;
        if answer.is_empty() {
            return Err(format!("no answer: {read:?}"));
        }
        Ok(answer)
    };
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))??;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end: {}", preview(&answer, 400)))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let mut body = answer[split + 4..].to_vec();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head}"))?;
    let lower = head.to_ascii_lowercase();
    if lower.contains("transfer-encoding: chunked") {
        let mut plain = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .map_err(|e| format!("bad chunk size: {e}"))?;
            if size == 0 {
                break;
            }
            let start = eol + 2;
            plain.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
            rest = &rest[(start + size + 2).min(rest.len())..];
        }
        body = plain;
    } else if let Some(length) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        body.truncate(length);
    }
    let status = StatusCode::from_u16(status).map_err(|e| format!("status {status}: {e}"))?;
    Ok((status, body))
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

struct Suite {
    backend: Backend,
    target: Target,
    fx: Fixture,
    seed: u64,
    cases: usize,
    hand_written: usize,
    generated: usize,
    raw_http: usize,
    health_checks: usize,
    failures: Vec<String>,
    /// How often each status and each outcome (`ok` or an error code) was seen.
    tally: BTreeMap<String, usize>,
    /// Cases that were answered correctly but took more than `SLOW`.
    slow: Vec<String>,
    /// Set when the server stopped answering `/healthz`: nothing after that means anything.
    aborted: bool,
}

impl Suite {
    /// Records a failure, and prints it at once: a crash of the process must not hide what came before.
    fn fail(&mut self, failure: String) {
        uncaptured(&format!("hostile ({:?}) FAILURE {failure}", self.backend));
        self.failures.push(failure);
    }

    fn tally(&mut self, answer: &Answer) {
        *self
            .tally
            .entry(format!("HTTP {}", answer.status.as_u16()))
            .or_default() += 1;
        for outcome in &answer.outcomes {
            *self.tally.entry(outcome.clone()).or_default() += 1;
        }
    }

    /// Sends one case, keeps count of what came back and notes slow answers.
    async fn exchange(&mut self, label: &str, case: &Case) -> Result<(), String> {
        let started = Instant::now();
        let result = send(&self.target, &self.fx, case).await;
        let took = started.elapsed();
        if let Ok(answer) = &result {
            self.tally(answer);
            if took > SLOW {
                self.slow.push(format!(
                    "{label}: {:.1} s, {} {:?}",
                    took.as_secs_f64(),
                    answer.status,
                    answer.outcomes
                ));
            }
        }
        if verbose() {
            eprintln!(
                "    {label}: {:.2} s{}",
                took.as_secs_f64(),
                if result.is_err() { " FAILED" } else { "" }
            );
        }
        result.map(|_| ())
    }

    /// Counts a case and checks health every `HEALTH_EVERY` cases, and at once after a failed case (a
    /// server that stopped answering makes every case after it time out: better stop there).
    async fn counted(&mut self, label: &str, failed: bool) {
        self.cases += 1;
        if failed || self.cases.is_multiple_of(HEALTH_EVERY) {
            self.health_checks += 1;
            if let Err(err) = healthy(&self.target).await {
                self.fail(format!(
                    "[health after {} cases, last {label}] {err}",
                    self.cases
                ));
                self.aborted = true;
            }
        }
    }

    /// `announce`: say so before the phase (uncaptured) and print each label before sending it, so that a
    /// case that takes the process down can be named (with `--nocapture` or `HOSTILE_VERBOSE=1`).
    async fn run_hand_written(&mut self, cases: Vec<(String, Case)>, announce: bool) {
        if announce && !self.aborted {
            uncaptured(&format!(
                "hostile input on {:?}: sending {} cases that have crashed or hung the server (a stack overflow abort from here on is the server's; --nocapture names the case)",
                self.backend,
                cases.len()
            ));
        }
        for (label, case) in cases {
            if self.aborted {
                return;
            }
            if announce {
                eprintln!("    sending: {label}");
            }
            let result = self.exchange(&label, &case).await;
            if let Err(err) = &result {
                self.fail(format!("[{label}]\n  request: {case:?}\n  answer: {err}"));
            }
            self.hand_written += 1;
            self.counted(&label, result.is_err()).await;
        }
    }

    async fn run_raw(&mut self, cases: Vec<(String, Vec<u8>, Vec<u8>)>) {
        for (label, head, body) in cases {
            if self.aborted {
                return;
            }
            let result = match raw_exchange(&self.target, &head, &body).await {
                Ok((status, bytes)) => check(status, &bytes).map(|a| self.tally(&a)),
                Err(err) => Err(err),
            };
            if let Err(err) = &result {
                self.fail(format!(
                    "[raw HTTP: {label}]\n  request: {} + {} body bytes\n  answer: {err}",
                    preview(&head, 400),
                    body.len()
                ));
            }
            self.raw_http += 1;
            self.counted(&label, result.is_err()).await;
        }
    }

    async fn run_generated(&mut self, name: &str, strategy: BoxedStrategy<Case>, cases: u32) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&fnv1a(name).to_le_bytes());
        let config = Config {
            cases,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let started = Instant::now();
        let mut failed = 0;
        for i in 0..cases {
            if self.aborted {
                return;
            }
            let mut tree = strategy.new_tree(&mut runner).unwrap();
            let case = tree.current();
            if verbose() {
                eprintln!(
                    "    {name} #{i}: {}",
                    preview(format!("{case:?}").as_bytes(), 300)
                );
            }
            let result = self.exchange(&format!("{name} #{i}"), &case).await;
            if let Err(err) = &result {
                failed += 1;
                // Shrink the first failure of a strategy, unless the server no longer answers at all.
                let shrink = failed == 1 && healthy(&self.target).await.is_ok();
                let (case, err) = if shrink {
                    self.shrink(&mut tree, case, err.clone()).await
                } else {
                    (case, err.clone())
                };
                self.fail(format!(
                    "[{name} #{i}{}]\n  request: {case:?}\n  answer: {err}",
                    if shrink { ", shrunk" } else { "" }
                ));
            }
            self.generated += 1;
            self.counted(name, result.is_err()).await;
        }
        eprintln!(
            "  {name}: {cases} cases in {:.1} s, {failed} failed ({} cases so far)",
            started.elapsed().as_secs_f64(),
            self.cases
        );
    }

    /// proptest's shrinking loop, driven by hand: simplify while the case still fails.
    async fn shrink(
        &mut self,
        tree: &mut impl ValueTree<Value = Case>,
        mut case: Case,
        mut err: String,
    ) -> (Case, String) {
        let started = Instant::now();
        if !tree.simplify() {
            return (case, err);
        }
        for _ in 0..SHRINK_STEPS {
            if started.elapsed() > SHRINK_TIME {
                break;
            }
            let candidate = tree.current();
            let more = match send(&self.target, &self.fx, &candidate).await {
                Err(e) => {
                    case = candidate;
                    err = e;
                    tree.simplify()
                }
                Ok(_) => tree.complicate(),
            };
            if !more {
                break;
            }
        }
        (case, err)
    }
}

/// Straight to stderr, past libtest's capture: a stack overflow in the server aborts the process before
/// any captured output is shown.
fn uncaptured(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `HOSTILE_VERBOSE=1` prints every case (hand-written ones with their duration).
fn verbose() -> bool {
    std::env::var_os("HOSTILE_VERBOSE").is_some()
}

/// `HOSTILE_ONLY=<name>` runs only the phases whose name contains it (`hand-written`, `raw HTTP`, or a
/// strategy such as `deep nesting`).
fn selected(phase: &str) -> bool {
    std::env::var("HOSTILE_ONLY").map_or(true, |only| phase.contains(only.as_str()))
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let uuid = uuid::Uuid::new_v4();
            let bytes = uuid.as_bytes();
            u64::from_le_bytes(bytes[..8].try_into().unwrap())
        })
}

/// Starts a server for `backend` on a runtime of its own and sends every case from another one.
fn run(backend: Backend) {
    let started = Instant::now();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hostile-server")
        .enable_all()
        .build()
        .unwrap();
    let app = server.block_on(TestApp::spawn(backend));
    let fx = server.block_on(Fixture::new(&app));
    let target = Target {
        base: app.base.clone(),
        client: reqwest::Client::new(),
    };
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let suite = client.block_on(run_suite(backend, target, fx));
    {
        let _runtime = server.enter();
        drop(app);
    }
    // A case may still be burning a server worker: do not wait for it.
    server.shutdown_background();
    eprintln!(
        "hostile input on {backend:?}, answers seen: {:?}",
        suite.tally
    );
    for slow in &suite.slow {
        eprintln!("  slow (answered, over {SLOW:?}): {slow}");
    }
    eprintln!(
        "hostile input on {backend:?}: {} cases ({} hand-written, {} raw HTTP, {} generated), {} health checks, {} failures, {:.1} s",
        suite.cases,
        suite.hand_written,
        suite.raw_http,
        suite.generated,
        suite.health_checks,
        suite.failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        suite.failures.is_empty(),
        "{} of {} hostile cases on {backend:?} were mishandled (seed {}):\n\n{}",
        suite.failures.len(),
        suite.cases,
        suite.seed,
        suite.failures.join("\n\n")
    );
}

async fn run_suite(backend: Backend, target: Target, fx: Fixture) -> Suite {
    let seed = seed();
    uncaptured(&format!(
        "hostile input on {backend:?}: seed {seed} (replay with HOSTILE_SEED={seed})"
    ));
    let mut suite = Suite {
        backend,
        target,
        fx,
        seed,
        cases: 0,
        hand_written: 0,
        generated: 0,
        raw_http: 0,
        health_checks: 0,
        failures: Vec::new(),
        tally: BTreeMap::new(),
        slow: Vec::new(),
        aborted: false,
    };
    if selected("hand-written") {
        let phase = Instant::now();
        let cases = hand_written(&suite.fx);
        suite.run_hand_written(cases, false).await;
        eprintln!(
            "  hand-written: {} cases in {:.1} s ({} cases so far)",
            suite.hand_written,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    if selected("raw HTTP") {
        let phase = Instant::now();
        let cases = raw_http_cases(&suite.fx);
        suite.run_raw(cases).await;
        eprintln!(
            "  raw HTTP: {} cases in {:.1} s ({} cases so far)",
            suite.raw_http,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    let mut strategies = strategies(&suite.fx);
    // Deep nesting after the rest: as things stand it can take the process down.
    let deep = strategies.pop();
    for (name, strategy, cases) in strategies {
        if selected(name) {
            suite.run_generated(name, strategy, cases).await;
        }
    }
    if selected("hand-written nesting") {
        let phase = Instant::now();
        let before = suite.hand_written;
        suite.run_hand_written(hand_written_nesting(), true).await;
        eprintln!(
            "  hand-written nesting: {} cases in {:.1} s ({} cases so far)",
            suite.hand_written - before,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    if let Some((name, strategy, cases)) = deep
        && selected(name)
        && !suite.aborted
    {
        uncaptured(&format!(
            "hostile input on {backend:?}: generating {cases} deeply nested documents (to name a case that aborts the process: HOSTILE_SEED={} HOSTILE_ONLY='{name}' HOSTILE_VERBOSE=1)",
            suite.seed
        ));
        suite.run_generated(name, strategy, cases).await;
    }
    if selected("hand-written fragment bomb") {
        suite.run_hand_written(fragment_bombs(), true).await;
    }
    if !suite.aborted {
        suite.health_checks += 1;
        if let Err(err) = healthy(&suite.target).await {
            suite.fail(format!("[health at the end] {err}"));
        }
    }
    suite
}

#[test]
fn hostile_input_sqlite() {
    run(Backend::Sqlite);
}

#[test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
fn hostile_input_mariadb_redis() {
    common::require_external();
    run(Backend::MariaDb);
}

// ---------------------------------------------------------------------------
// Hand-written cases
// ---------------------------------------------------------------------------

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    format!("{}{middle}{}", open.repeat(depth), close.repeat(depth))
}

/// `{ posts { nodes { comments { nodes { post { comments { … } } } } } } }`, `depth` levels of real fields.
fn deep_real_fields(depth: usize) -> String {
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

fn aliases(count: usize, field: &str) -> String {
    let body: Vec<String> = (0..count).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", body.join(" "))
}

/// F0 … F`levels`, each spreading the one below twice: 2^levels fields once expanded.
fn fragment_bomb(levels: usize) -> String {
    let mut doc = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ viewer {{ id }} }}\n");
    for level in 1..=levels {
        let below = level - 1;
        doc.push_str(&format!(
            "fragment F{level} on Query {{ ...F{below} __typename ...F{below} }}\n"
        ));
    }
    doc
}

fn hand_written(fx: &Fixture) -> Vec<(String, Case)> {
    let mut cases: Vec<(String, Case)> = Vec::new();
    let mut add = |label: &str, case: Case| cases.push((label.to_owned(), case));
    let viewer = "{ viewer { id } }";
    let big = 900 * 1024;

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
    cases
}

/// Nesting, run after the other cases: on the server as it is, some of it overflows the stack of a server
/// worker, and a stack overflow aborts the whole test process.
fn hand_written_nesting() -> Vec<(String, Case)> {
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
fn fragment_bombs() -> Vec<(String, Case)> {
    vec![(
        "fragment bomb of 24 levels".to_owned(),
        Case::query(&fragment_bomb(24)),
    )]
}

fn raw_http_cases(fx: &Fixture) -> Vec<(String, Vec<u8>, Vec<u8>)> {
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

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn sql_meta() -> BoxedStrategy<String> {
    select(SQL_META).prop_map(str::to_owned).boxed()
}

fn number_text() -> BoxedStrategy<String> {
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
fn hostile_string() -> BoxedStrategy<String> {
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
fn random_id() -> BoxedStrategy<String> {
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
fn id_value(fx: &Fixture) -> BoxedStrategy<String> {
    let real = fx.ids.clone();
    prop_oneof![3 => random_id(), 1 => select(real)].boxed()
}

fn json_value() -> BoxedStrategy<Value> {
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
fn gql_literal() -> BoxedStrategy<String> {
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

fn is_id_argument(name: &str) -> bool {
    matches!(
        name,
        "id" | "categoryId" | "authorId" | "parentId" | "postId" | "commentId" | "userId"
    )
}

/// A value for a query argument: mostly of the right type (so it reaches the resolvers), sometimes anything.
fn argument(name: &'static str, fx: &Fixture) -> BoxedStrategy<String> {
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

fn auth() -> BoxedStrategy<Auth> {
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
fn root_field(fx: &Fixture) -> BoxedStrategy<String> {
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

fn queries(fx: &Fixture) -> BoxedStrategy<Case> {
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
fn input_value(mutation: &'static str, field: &'static str, fx: &Fixture) -> BoxedStrategy<Value> {
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

fn mutations(fx: &Fixture) -> BoxedStrategy<Case> {
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
fn numbers() -> BoxedStrategy<Case> {
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
fn ids(fx: &Fixture) -> BoxedStrategy<Case> {
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

/// Random printable strings as the whole document.
fn printable_documents() -> BoxedStrategy<Case> {
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
fn token_soup() -> BoxedStrategy<Case> {
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

fn random_bytes() -> BoxedStrategy<Case> {
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
fn json_bodies() -> BoxedStrategy<Case> {
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
enum Damage {
    Insert,
    Replace,
    Truncate,
    Delete,
}

/// Valid requests with bytes inserted, replaced or cut: invalid UTF-8, NUL, broken JSON.
fn corrupted(fx: &Fixture) -> BoxedStrategy<Case> {
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

fn batches(fx: &Fixture) -> BoxedStrategy<Case> {
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
fn deep() -> BoxedStrategy<Case> {
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

fn many_aliases() -> BoxedStrategy<Case> {
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
fn long_strings(fx: &Fixture) -> BoxedStrategy<Case> {
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

fn get_requests(fx: &Fixture) -> BoxedStrategy<Case> {
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

/// (name, strategy, cases). The expensive ones get fewer cases so the whole run stays short.
fn strategies(fx: &Fixture) -> Vec<(&'static str, BoxedStrategy<Case>, u32)> {
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
