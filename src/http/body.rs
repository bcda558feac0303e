//! The bounds of a `POST /graphql` body, as tower layers around its handler: JSON only, at most
//! `max_body_bytes` (tower-http's [`RequestBodyLimitLayer`]), and the whole body within
//! `body_read_timeout` ([`BodyDeadlineLayer`]). The handler reads the bounded body with [`read`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::MethodRouter;
use http_body::Frame;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};
use tower_http::limit::RequestBodyLimitLayer;

use super::SharedState;
use super::graphql::{media_of, refuse};
use crate::graphql::pipeline::GRAPHQL_RESPONSE_JSON;

/// How large a body may be and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The whole body, not each chunk: a client trickling a byte at a time is cut off all the same.
    pub read_timeout: Duration,
}

impl BodyLimits {
    /// `POST` to `handler` behind the body's layers, outermost first: the media type and a declared
    /// length are refused before a byte of the body is read; then the body is bounded in size and in time.
    pub fn post<H, T>(self, handler: H) -> MethodRouter<SharedState>
    where
        H: Handler<T, SharedState>,
        T: 'static,
    {
        axum::routing::post(
            handler.layer(
                tower::ServiceBuilder::new()
                    .layer(axum::middleware::from_fn_with_state(self, admit))
                    .layer(RequestBodyLimitLayer::new(self.max_bytes))
                    .layer(BodyDeadlineLayer::new(self.read_timeout)),
            ),
        )
    }

    /// The answer to a body that could not be read: too large, or not whole in time (a connection that
    /// failed mid-body gets the same answer as one too slow).
    pub fn refusal(&self, headers: &HeaderMap, err: &axum::Error) -> Response {
        let media = media_of(headers);
        if is_length_limit(err) {
            return self.too_large(headers);
        }
        let mut slow = refuse(
            StatusCode::REQUEST_TIMEOUT,
            "BAD_USER_INPUT",
            &format!(
                "the request body did not arrive within {} ms",
                self.read_timeout.as_millis()
            ),
            media,
        );
        slow.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        slow
    }

    fn too_large(&self, headers: &HeaderMap) -> Response {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("the request body is larger than {} bytes", self.max_bytes),
            media_of(headers),
        )
    }
}

/// Refuses what needs no body to refuse: another media type than JSON (so a browser's simple cross-site
/// request never runs), and a declared length past the limit (answered in the API's shape here; the limit
/// layer below bounds what actually arrives, chunked or not).
async fn admit(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("application/json")
        || content_type.starts_with(GRAPHQL_RESPONSE_JSON))
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "POST /graphql needs Content-Type: application/json",
            media_of(headers),
        );
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return limits.too_large(headers);
    }
    next.run(request).await
}

/// The whole body, read under the layers' bounds.
pub async fn read(body: Body) -> Result<Bytes, axum::Error> {
    axum::body::to_bytes(body, usize::MAX).await
}

/// Whether reading a body failed on the size limit (rather than on time or the connection).
fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Gives every request body a deadline counted from the request's arrival (tower-http's
/// `RequestBodyTimeoutLayer` restarts its clock with every chunk).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadlineLayer {
    timeout: Duration,
}

impl BodyDeadlineLayer {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyDeadline {
            inner,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BodyDeadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> Service<axum::http::Request<B>> for BodyDeadline<S>
where
    S: Service<Request>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let deadline = Instant::now() + self.timeout;
        self.inner.call(request.map(|body| {
            Body::new(DeadlineBody {
                body,
                deadline: tokio::time::sleep_until(deadline),
            })
        }))
    }
}

pin_project! {
    /// A body that fails with [`BodyTooSlow`] once its deadline passed before its end.
    struct DeadlineBody<B> {
        #[pin]
        body: B,
        #[pin]
        deadline: Sleep,
    }
}

/// The body did not arrive whole before its deadline.
#[derive(Debug)]
pub struct BodyTooSlow;

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTooSlow {}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that sends `chunk` every `every`, forever.
    fn trickle(every: Duration) -> Body {
        let stream = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
        });
        Body::from_stream(stream)
    }

    fn bounded(body: Body, timeout: Duration) -> Body {
        Body::new(DeadlineBody {
            body,
            deadline: tokio::time::sleep_until(Instant::now() + timeout),
        })
    }

    #[tokio::test]
    async fn a_trickling_body_is_cut_off_at_the_deadline_though_every_chunk_is_on_time() {
        let err = read(bounded(
            trickle(Duration::from_millis(10)),
            Duration::from_millis(300),
        ))
        .await
        .unwrap_err();
        assert!(!is_length_limit(&err));
        assert!(err.to_string().contains("in time"), "{err}");
    }

    #[tokio::test]
    async fn a_body_complete_in_time_is_read_whole() {
        let body = bounded(
            Body::from("{\"query\":\"{ a }\"}"),
            Duration::from_millis(300),
        );
        assert_eq!(&read(body).await.unwrap()[..], b"{\"query\":\"{ a }\"}");
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_told_apart_from_a_slow_one() {
        let limited = Body::new(http_body_util::Limited::new(Body::from("x".repeat(11)), 10));
        let err = read(bounded(limited, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(is_length_limit(&err));
    }
}
