//! GraphiQL from the binary: the page and its assets, their headers, and what a first load transfers in each
//! coding a browser may accept.

use std::collections::BTreeMap;

use crate::helpers::{Backend, TestApp};
use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH, HeaderMap, VARY};

const ASSETS: &str = "/graphiql/assets/";
/// The page itself stays small: everything else is an asset, cached for good.
const PAGE_BUDGET: usize = 2 * 1024;
/// The page, what it references and the workers its script starts, as a browser accepting brotli gets them.
const FIRST_LOAD_BUDGET: usize = 1_500_000;

/// The quoted or parenthesised references to `/graphiql/assets/…` files (or, relative, to the files beside a
/// style sheet) in `text`.
fn asset_names(text: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .unwrap_or(rest.len());
        if end > 0 {
            names.push(rest[..end].to_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn graphiql_comes_from_the_binary_with_a_strict_csp_and_immutable_assets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let get = |path: String| app.client().get(format!("{}{path}", app.base)).send();

    let page = get("/".into()).await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in csp.split(';').map(str::trim) {
        let mut words = directive.split_whitespace();
        let name = words.next().unwrap();
        for source in words {
            let allowed = match source {
                "'self'" | "'none'" => true,
                // Monaco writes <style> elements at run time; scripts stay 'self' only.
                "'unsafe-inline'" => name == "style-src",
                _ => false,
            };
            assert!(allowed, "{name} allows {source}: {csp}");
        }
    }
    for needed in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(needed), "{needed}: {csp}");
    }
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http:") && !html.contains("https:") && !html.contains("//"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline: {html}"
    );
    assert_eq!(
        get("/graphiql".into()).await.unwrap().text().await.unwrap(),
        html
    );

    // Every asset the page references, and the ones those reference (fonts and images in the style sheet, Monaco's
    // workers in the script), is served with its type and cached for good.
    let mut pending = asset_names(&html, "/graphiql/assets/");
    assert!(
        pending.iter().any(|n| n.ends_with(".js")) && pending.iter().any(|n| n.ends_with(".css"))
    );
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        let asset = get(format!("/graphiql/assets/{name}")).await.unwrap();
        assert_eq!(asset.status(), 200, "{name}");
        assert_eq!(
            asset.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{name}"
        );
        assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
        let expected = match name.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "woff2" => "font/woff2",
            "woff" => "font/woff",
            "ttf" => "font/ttf",
            "png" => "image/png",
            "svg" => "image/svg+xml",
            other => panic!("{name}: unexpected kind of asset {other}"),
        };
        assert_eq!(asset.headers()["content-type"], expected, "{name}");
        let body = asset.bytes().await.unwrap();
        if name.ends_with(".css") {
            pending.extend(asset_names(&String::from_utf8_lossy(&body), "url("));
        } else if name.starts_with("graphiql-") && name.ends_with(".js") {
            let script = String::from_utf8_lossy(&body);
            let workers: Vec<String> = asset_names(&script, "\"")
                .into_iter()
                .filter(|n| n.contains(".worker-") && n.ends_with(".js"))
                .collect();
            assert_eq!(
                workers.len(),
                3,
                "editor, JSON and GraphQL workers: {workers:?}"
            );
            pending.extend(workers);
        }
        seen.push(name);
    }
    assert!(seen.len() > 6, "page, fonts and workers: {seen:?}");
    let missing = get("/graphiql/assets/graphiql-0000000000000000.js".into())
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// The assets `body` (the asset `name`) references: the style sheet's fonts and images, the script's workers.
fn references(name: &str, body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    if name.ends_with(".css") {
        asset_names(&text, "url(")
    } else if name.starts_with("graphiql-") && name.ends_with(".js") {
        asset_names(&text, "\"")
            .into_iter()
            .filter(|n| n.contains(".worker-") && n.ends_with(".js"))
            .collect()
    } else {
        Vec::new()
    }
}

fn brotli_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
    out
}

fn gzip_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// One answer: its headers and its body exactly as sent (this client decompresses nothing).
struct Answer {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn coding(&self) -> Option<&str> {
        self.headers
            .get(CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap())
    }

    fn varies_by_coding(&self) -> bool {
        self.headers
            .get_all(VARY)
            .iter()
            .flat_map(|v| v.to_str().unwrap().split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
    }

    fn content_length(&self) -> usize {
        self.headers[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

async fn fetch(app: &TestApp, method: reqwest::Method, path: &str, accept: Option<&str>) -> Answer {
    let mut request = app.client().request(method, format!("{}{path}", app.base));
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path} ({accept:?})");
    Answer {
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(app: &TestApp, path: &str, accept: Option<&str>) -> Answer {
    fetch(app, reqwest::Method::GET, path, accept).await
}

/// The page and every asset it reaches (its references, theirs, …), as identity bytes by name.
async fn page_and_assets(app: &TestApp) -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
    let page = get(app, "/", None).await.body;
    let mut pending = asset_names(&String::from_utf8_lossy(&page), ASSETS);
    let mut assets = BTreeMap::new();
    while let Some(name) = pending.pop() {
        if assets.contains_key(&name) {
            continue;
        }
        let body = get(app, &format!("{ASSETS}{name}"), None).await.body;
        pending.extend(references(&name, &body));
        assets.insert(name, body);
    }
    (page, assets)
}

#[tokio::test]
async fn every_asset_is_served_in_the_coding_asked_for_and_decodes_to_the_same_bytes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, assets) = page_and_assets(&app).await;
    assert!(assets.len() > 6, "page, fonts and workers: {assets:?}");
    let mut compressed = 0;
    for (name, identity) in &assets {
        let path = format!("{ASSETS}{name}");
        let plain = get(&app, &path, None).await;
        assert_eq!(
            plain.coding(),
            None,
            "{name}: no Accept-Encoding, no coding"
        );
        assert_eq!(&plain.body, identity);
        assert_eq!(plain.content_length(), identity.len(), "{name}");
        let refused = get(&app, &path, Some("gzip;q=0, br;q=0")).await;
        assert_eq!(refused.coding(), None, "{name}: both codings refused");
        assert_eq!(&refused.body, identity, "{name}");

        let br = get(&app, &path, Some("br")).await;
        let gzip = get(&app, &path, Some("gzip")).await;
        for answer in [&br, &gzip] {
            assert_eq!(answer.content_length(), answer.body.len(), "{name}");
        }
        // Scripts and style sheets always come compressed; fonts that are compressed already never do.
        let kind = name.rsplit('.').next().unwrap();
        if matches!(kind, "js" | "css") {
            assert_eq!(br.coding(), Some("br"), "{name}");
            assert_eq!(gzip.coding(), Some("gzip"), "{name}");
        }
        if matches!(kind, "woff2" | "woff" | "png") {
            assert_eq!((br.coding(), gzip.coding()), (None, None), "{name}");
        }
        match (br.coding(), gzip.coding()) {
            (Some("br"), Some("gzip")) => {
                compressed += 1;
                assert!(brotli_decoded(&br.body) == *identity, "{name}: br");
                assert!(gzip_decoded(&gzip.body) == *identity, "{name}: gzip");
                assert!(br.body.len() < gzip.body.len() && gzip.body.len() < identity.len());
                for answer in [&plain, &refused, &br, &gzip] {
                    assert!(answer.varies_by_coding(), "{name}: Vary: Accept-Encoding");
                }
                // A browser's usual list gets brotli; one without it gets gzip.
                let browser = get(&app, &path, Some("gzip, deflate, br, zstd")).await;
                assert_eq!(browser.coding(), Some("br"), "{name}");
                let no_br = get(&app, &path, Some("br;q=0, gzip, deflate")).await;
                assert_eq!(no_br.coding(), Some("gzip"), "{name}");
                let any = get(&app, &path, Some("*")).await;
                assert_eq!(any.coding(), Some("br"), "{name}");
            }
            (None, None) => {
                assert_eq!(br.body, *identity, "{name}");
                assert_eq!(gzip.body, *identity, "{name}");
            }
            other => panic!("{name}: br and gzip come together: {other:?}"),
        }
        for answer in [&plain, &refused, &br, &gzip] {
            assert_eq!(
                answer.headers["cache-control"],
                "public, max-age=31536000, immutable"
            );
        }
    }
    assert!(
        compressed >= 5,
        "the script, its three workers, the style sheet"
    );
}

#[tokio::test]
async fn head_answers_carry_the_get_headers_and_no_body() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (page, assets) = page_and_assets(&app).await;
    let script = asset_names(&String::from_utf8_lossy(&page), ASSETS)
        .into_iter()
        .find(|n| n.ends_with(".js"))
        .unwrap();
    let font = assets.keys().find(|n| n.ends_with(".woff2")).unwrap();
    for (path, accept) in [
        (format!("{ASSETS}{script}"), Some("br, gzip")),
        (format!("{ASSETS}{script}"), Some("gzip")),
        (format!("{ASSETS}{script}"), None),
        (format!("{ASSETS}{font}"), Some("br, gzip")),
        ("/".to_owned(), Some("br, gzip")),
    ] {
        let got = get(&app, &path, accept).await;
        let head = fetch(&app, reqwest::Method::HEAD, &path, accept).await;
        assert!(head.body.is_empty(), "{path}");
        assert_eq!(head.content_length(), got.body.len(), "{path} {accept:?}");
        assert_eq!(head.coding(), got.coding(), "{path} {accept:?}");
        assert_eq!(head.varies_by_coding(), got.varies_by_coding(), "{path}");
        assert_eq!(head.headers["content-type"], got.headers["content-type"]);
    }
}

#[tokio::test]
async fn a_first_load_transfers_under_its_budget() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = get(&app, "/", Some("br, gzip")).await;
    assert_eq!(page.content_length(), page.body.len());
    assert!(
        page.body.len() < PAGE_BUDGET,
        "the page is {} bytes",
        page.body.len()
    );
    // What the page loads (icon, style sheet, script) and the workers the script starts at once; the fonts the
    // style sheet lists are fetched only when used, and come compressed already.
    let mut first_load = asset_names(&String::from_utf8_lossy(&page.body), ASSETS);
    assert_eq!(first_load.len(), 3, "{first_load:?}");
    let script = first_load
        .iter()
        .find(|n| n.ends_with(".js"))
        .unwrap()
        .clone();
    let identity = get(&app, &format!("{ASSETS}{script}"), None).await.body;
    first_load.extend(references(&script, &identity));
    assert_eq!(first_load.len(), 6, "and the three workers: {first_load:?}");

    let mut sizes = BTreeMap::new();
    for accept in [None, Some("gzip"), Some("br, gzip")] {
        let mut total = page.body.len();
        for name in &first_load {
            let answer = get(&app, &format!("{ASSETS}{name}"), accept).await;
            total += answer.body.len();
        }
        println!("first load with Accept-Encoding {accept:?}: {total} bytes");
        sizes.insert(accept.unwrap_or("identity"), total);
    }
    assert!(
        sizes["br, gzip"] < FIRST_LOAD_BUDGET,
        "a first load takes {} bytes with brotli (budget {FIRST_LOAD_BUDGET})",
        sizes["br, gzip"]
    );
    // Compression does the work: without it the same load is several times larger.
    assert!(sizes["br, gzip"] * 4 < sizes["identity"], "{sizes:?}");
    assert!(sizes["br, gzip"] < sizes["gzip"], "{sizes:?}");
}
