//! A case (one request, its auth and body), the checks its answer must pass, and the fixture it runs
//! against (a user, an admin and some real ids).

use super::*;

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(super) enum Auth {
    Anonymous,
    User,
    Admin,
    /// A raw `Authorization` value.
    Raw(String),
}

#[derive(Clone)]
pub(super) enum Request {
    Post {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The raw query string after `/graphql?`.
    Get { query: String },
}

#[derive(Clone)]
pub(super) struct Case {
    pub(super) request: Request,
    pub(super) auth: Auth,
}

/// At most `max` bytes of `bytes`, escaped, with the full length when cut.
pub(super) fn preview(bytes: &[u8], max: usize) -> String {
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
    pub(super) fn raw(body: impl Into<Vec<u8>>) -> Self {
        Self {
            request: Request::Post {
                content_type: Some("application/json".into()),
                body: body.into(),
            },
            auth: Auth::Anonymous,
        }
    }

    pub(super) fn json(body: &Value) -> Self {
        Self::raw(serde_json::to_vec(body).unwrap())
    }

    pub(super) fn query(document: &str) -> Self {
        Self::json(&json!({ "query": document }))
    }

    pub(super) fn query_vars(document: &str, variables: Value) -> Self {
        Self::json(&json!({ "query": document, "variables": variables }))
    }

    pub(super) fn get(query: impl Into<String>) -> Self {
        Self {
            request: Request::Get {
                query: query.into(),
            },
            auth: Auth::Anonymous,
        }
    }

    pub(super) fn content_type(mut self, value: Option<&str>) -> Self {
        if let Request::Post { content_type, .. } = &mut self.request {
            *content_type = value.map(str::to_owned);
        }
        self
    }

    pub(super) fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
}

pub(super) fn gql_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A JSON value written as a GraphQL input literal.
pub(super) fn gql_literal_of(value: &Value) -> String {
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

pub(super) fn url_encode(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

pub(super) fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

// ---------------------------------------------------------------------------
// The server's answer
// ---------------------------------------------------------------------------

/// What an acceptable answer was: its status and, per operation, `ok` or its error codes.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) outcomes: Vec<String>,
}

/// Checks one answer; `Err` describes what is wrong with it.
pub(super) fn check(status: StatusCode, bytes: &[u8]) -> Result<Answer, String> {
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
pub(super) struct Fixture {
    pub(super) user_token: String,
    pub(super) admin_token: String,
    /// Real ids of categories, a post and a comment (never deleted by the generated cases).
    pub(super) ids: Vec<String>,
    pub(super) category_id: String,
    pub(super) post_id: String,
}

impl Fixture {
    pub(super) async fn new(app: &TestApp) -> Self {
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
