use super::*;

#[test]
fn the_endpoint_is_a_base_url_or_the_traces_url() {
    assert_eq!(
        traces_url("http://collector:4318"),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        traces_url("http://collector:4318/"),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        traces_url("http://collector:4318/v1/traces"),
        "http://collector:4318/v1/traces"
    );
}

#[test]
fn a_traceparent_is_continued_and_a_malformed_one_is_not() {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "traceparent",
        axum::http::HeaderValue::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    );
    headers.insert(
        "tracestate",
        axum::http::HeaderValue::from_static("vendor=opaque"),
    );
    let parent = remote_parent(&headers);
    let span = parent.span();
    let ids = span.span_context();
    assert_eq!(
        ids.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(ids.span_id().to_string(), "00f067aa0ba902b7");
    assert!(ids.is_sampled() && ids.is_remote());
    assert_eq!(ids.trace_state().get("vendor"), Some("opaque"));

    headers.insert(
        "traceparent",
        axum::http::HeaderValue::from_static(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ),
    );
    assert!(!remote_parent(&headers).span().span_context().is_valid());
}
