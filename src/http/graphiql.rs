//! GraphiQL, the in-browser IDE served at `/` and `/graphiql`, entirely from files embedded in the binary: no
//! network at build or run time. The files are built by `tools/graphiql/refresh.sh` into `graphiql/`; every asset's
//! name carries its content's hash, so assets are cached for good and only the page itself is revalidated. The
//! scripts, style sheet and unpacked font are embedded brotli- and gzip-compressed too (by the same tool), and each
//! client gets the coding its `Accept-Encoding` prefers: nothing is compressed while serving.

mod assets;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::accept_encoding::{self, Coding};

/// Where the page finds its assets (the route `/graphiql/assets/{name}`).
#[cfg(test)]
const ASSET_PATH: &str = "/graphiql/assets/";

/// A file the page loads.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// `bytes` brotli-compressed, for the assets worth it.
    pub br: Option<&'static [u8]>,
    /// `bytes` gzip-compressed, for the same assets.
    pub gzip: Option<&'static [u8]>,
}

impl Asset {
    /// The codings it is stored in besides identity, the smallest first.
    fn codings(&self) -> impl Iterator<Item = (Coding, &'static [u8])> {
        [(Coding::Brotli, self.br), (Coding::Gzip, self.gzip)]
            .into_iter()
            .filter_map(|(coding, bytes)| Some((coding, bytes?)))
    }
}

/// Everything from this origin, nothing from anywhere else, and no inline script.
/// - `style-src 'unsafe-inline'`: Monaco (GraphiQL's editor) writes `<style>` elements and `style` attributes in
///   markup for its themes, token colours and widgets at run time; under `style-src 'self'` Chromium refuses them
///   and the editors render broken. Scripts stay `'self'` only.
/// - `worker-src 'self'`: Monaco's language services run in workers loaded from the assets.
/// - `connect-src 'self'`: `/graphql` over HTTP and, for subscriptions, over WebSocket (CSP 3 lets `'self'` match
///   `ws:`/`wss:` to the same host).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; worker-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// The page: revalidated on every load, so a new binary's assets are picked up at once.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        SECURITY_HEADERS,
        assets::PAGE,
    )
        .into_response()
}

/// One asset by name, in the coding the client prefers; a name that is not embedded (an old hash too) is 404.
pub async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    let Some(asset) = find(&name) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let offered: Vec<Coding> = asset.codings().map(|(coding, _)| coding).collect();
    let chosen = accept_encoding::negotiate(request.get_all(header::ACCEPT_ENCODING), &offered);
    let body = chosen
        .and_then(|chosen| asset.codings().find(|&(coding, _)| coding == chosen))
        .map_or(asset.bytes, |(_, bytes)| bytes);
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        SECURITY_HEADERS,
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(coding) = chosen {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    // Caches keep one copy per coding; an asset stored in one form only answers every client alike.
    if !offered.is_empty() {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

fn find(name: &str) -> Option<&'static Asset> {
    assets::ASSETS.iter().find(|asset| asset.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use sha2::{Digest, Sha256};
    use tower::ServiceExt;

    const CHECKSUMS: &str = include_str!("graphiql/SHA256SUMS");

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn the_checksums_cover_exactly_the_embedded_files_and_match_their_bytes() {
        let mut listed: Vec<&str> = Vec::new();
        for line in CHECKSUMS.lines() {
            let (sum, name) = line.split_once("  ").expect("sha256sum format");
            let bytes = if name == "index.html" {
                assets::PAGE.as_bytes()
            } else {
                find(name)
                    .unwrap_or_else(|| panic!("{name} is listed but not embedded"))
                    .bytes
            };
            assert_eq!(sha256(bytes), sum, "{name} differs from its checksum");
            listed.push(name);
        }
        for asset in assets::ASSETS {
            assert!(
                listed.contains(&asset.name),
                "{} has no checksum",
                asset.name
            );
        }
        assert_eq!(listed.len(), assets::ASSETS.len() + 1);
    }

    fn brotli_decoded(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli_decompressor::BrotliDecompress(&mut &bytes[..], &mut out).expect("brotli");
        out
    }

    fn gzip_decoded(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)
            .expect("gzip");
        out
    }

    #[test]
    fn the_compressed_copies_decompress_to_exactly_their_asset() {
        // The .br/.gz files are committed beside the assets: this is what keeps them from drifting.
        let mut compressed = 0;
        for asset in assets::ASSETS {
            assert_eq!(asset.br.is_some(), asset.gzip.is_some(), "{}", asset.name);
            if let (Some(br), Some(gzip)) = (asset.br, asset.gzip) {
                assert!(brotli_decoded(br) == asset.bytes, "{}.br", asset.name);
                assert!(gzip_decoded(gzip) == asset.bytes, "{}.gz", asset.name);
                assert!(br.len() < asset.bytes.len() && gzip.len() < asset.bytes.len());
                compressed += 1;
            }
        }
        assert!(
            compressed >= 4,
            "the script, its workers and the style sheet"
        );
    }

    #[test]
    fn text_is_compressed_and_compressed_formats_are_not() {
        for asset in assets::ASSETS {
            let kind = asset.name.rsplit('.').next().expect("an extension");
            let expected = match kind {
                "js" | "css" | "svg" | "ttf" => asset.bytes.len() >= 1024,
                "woff2" | "woff" | "png" => false,
                other => panic!("{}: no rule for {other}", asset.name),
            };
            assert_eq!(asset.br.is_some(), expected, "{}", asset.name);
        }
    }

    #[test]
    fn every_asset_name_carries_its_content_hash() {
        // What makes `immutable` safe: changed bytes get a new name.
        for asset in assets::ASSETS {
            let hash = &sha256(asset.bytes)[..16];
            assert!(
                asset.name.contains(hash),
                "{} is not named by its hash {hash}",
                asset.name
            );
        }
    }

    #[test]
    fn the_page_loads_embedded_assets_only() {
        let page = assets::PAGE;
        let referenced: Vec<&str> = page
            .match_indices(ASSET_PATH)
            .map(|(at, _)| {
                let rest = &page[at + ASSET_PATH.len()..];
                &rest[..rest.find('"').expect("a quoted URL")]
            })
            .collect();
        assert_eq!(
            referenced.len(),
            3,
            "an icon, a style sheet and a script: {page}"
        );
        for name in referenced {
            assert!(find(name).is_some(), "{name} is not embedded");
        }
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("http"), "no other origin");
    }

    async fn response_to(path: &str, accept_encoding: Option<&str>) -> Response {
        let router: Router = Router::new().route("/graphiql/assets/{name}", get(asset));
        let mut request = Request::get(path);
        if let Some(accept) = accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        let request = request.body(Body::empty()).expect("a request");
        router.oneshot(request).await.expect("infallible")
    }

    async fn status_of(path: &str) -> StatusCode {
        response_to(path, None).await.status()
    }

    #[tokio::test]
    async fn the_coding_follows_accept_encoding_and_uncompressed_assets_do_not_vary() {
        let script = assets::ASSETS
            .iter()
            .find(|a| a.br.is_some())
            .expect("a compressed asset");
        let path = format!("{ASSET_PATH}{}", script.name);
        for (accept, coding) in [
            (Some("gzip, deflate, br"), Some("br")),
            (Some("br;q=0, gzip"), Some("gzip")),
            (Some("gzip;q=0, br;q=0"), None),
            (None, None),
        ] {
            let response = response_to(&path, accept).await;
            let headers = response.headers();
            assert_eq!(
                headers
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().expect("ascii")),
                coding,
                "{accept:?}"
            );
            assert_eq!(headers[header::VARY], "accept-encoding", "{accept:?}");
        }
        let font = assets::ASSETS
            .iter()
            .find(|a| a.name.ends_with(".woff2"))
            .expect("a font");
        let response = response_to(&format!("{ASSET_PATH}{}", font.name), Some("br, gzip")).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert!(response.headers().get(header::VARY).is_none());
    }

    #[tokio::test]
    async fn a_known_asset_is_served_and_an_unknown_one_is_404() {
        let known = &assets::ASSETS[0];
        assert_eq!(
            status_of(&format!("{ASSET_PATH}{}", known.name)).await,
            StatusCode::OK
        );
        assert_eq!(
            status_of(&format!("{ASSET_PATH}graphiql-0000000000000000.js")).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_of(&format!("{ASSET_PATH}..%2Findex.html")).await,
            StatusCode::NOT_FOUND
        );
    }
}
