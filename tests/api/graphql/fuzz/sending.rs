//! Sending a case: through reqwest, by hand with `Expect: 100-continue`, or as raw HTTP/1.1 bytes.

use super::*;

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// Where the cases go: the server's address and a client living in the runtime that sends the cases (not
/// the server's, so a stuck server worker cannot stall the client's timeouts).
pub(super) struct Target {
    pub(super) base: String,
    pub(super) client: reqwest::Client,
}

pub(super) fn expects_continue(head: &[u8]) -> bool {
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("\r\nexpect: 100-continue\r\n")
}

/// Bodies above the limit go out by hand with `Expect: 100-continue`: the server answers 413 without
/// reading them, and a client that kept writing would see a broken pipe instead of that answer.
pub(super) async fn send_oversized(
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

pub(super) async fn send(target: &Target, fx: &Fixture, case: &Case) -> Result<Answer, String> {
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

pub(super) async fn healthy(target: &Target) -> Result<(), String> {
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
pub(super) async fn raw_exchange(
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

pub(super) fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
