//! The learner's web app at `/`: the files `scripts/web.sh build` writes to `web/dist/`,
//! embedded in the binary so that one binary still does everything (no CDN, nothing
//! fetched at run time). `GAUNTLET_WEB_DIR` serves them from a folder instead, read on
//! every request, for front-end work without rebuilding the server.
//!
//! The app is one page: every app URL answers `index.html`, whose script routes on the
//! path. Assets are revalidated by their ETag (a hash of their bytes), so a new binary
//! never leaves a browser on stale files.

use std::path::Path;
use std::sync::OnceLock;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

/// The page's content policy: nothing inline, nothing from elsewhere. Scripts, styles,
/// fetches and the event stream come from this origin only; images may also be `data:`
/// URLs (statements may carry them).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self'; manifest-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Asset {
    name: &'static str,
    bytes: &'static [u8],
}

/// One file of `web/dist/`, embedded under its own name.
macro_rules! asset {
    ($name:literal) => {
        Asset {
            name: $name,
            bytes: include_bytes!(concat!("../../../../web/dist/", $name)),
        }
    };
}

/// The built app (`web/dist/`), checked against its sources by `scripts/web.sh check`.
const EMBEDDED: &[Asset] = &[
    asset!("index.html"),
    asset!("app.js"),
    asset!("app.css"),
    asset!("favicon.svg"),
    asset!("THIRD-PARTY-LICENSES.txt"),
];

/// The app's routes: its pages (all answered by `index.html`) and `/assets/{name}`.
/// Compresses the embedded files now, once, so that no request waits for it.
pub(super) fn routes() -> Router<AppState> {
    packed();
    Router::new()
        .route("/", get(page))
        .route("/leaderboard", get(page))
        .route("/exercises/{id}", get(page))
        .route("/submissions/{id}", get(page))
        .route("/assets/{name}", get(asset))
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve(&state, "index.html", &headers)
}

async fn asset(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    // index.html is a page, not an asset: one URL per file keeps caches simple.
    if name == "index.html" {
        return ApiError::NoRoute.into_response();
    }
    serve(&state, &name, &headers)
}

/// One representation of a file: its bytes, its ETag, and whether they are gzipped.
struct Body {
    bytes: bytes::Bytes,
    etag: String,
    gzip: bool,
}

fn serve(state: &AppState, name: &str, headers: &HeaderMap) -> Response {
    let gzip_ok = accepts_gzip(headers);
    let found = match &state.settings().web_dir {
        Some(dir) => from_dir(dir, name),
        None => embedded(name, gzip_ok),
    };
    let Some(body) = found else {
        return ApiError::NoRoute.into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == body.etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.bytes.into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    if body.gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(&body.etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Whether `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// An embedded file, plain and gzipped, with an ETag for each.
struct Packed {
    name: &'static str,
    plain: bytes::Bytes,
    plain_etag: String,
    gzip: bytes::Bytes,
    gzip_etag: String,
}

/// The embedded files, each compressed once (gzip's best level: the work is done a
/// single time per process, the bytes are sent on every first visit).
fn packed() -> &'static [Packed] {
    static PACKED: OnceLock<Vec<Packed>> = OnceLock::new();
    PACKED.get_or_init(|| {
        EMBEDDED
            .iter()
            .map(|a| {
                let gzip = gzipped(a.bytes);
                Packed {
                    name: a.name,
                    plain: bytes::Bytes::from_static(a.bytes),
                    plain_etag: etag(a.bytes, ""),
                    gzip_etag: etag(a.bytes, "-gz"),
                    gzip: bytes::Bytes::from(gzip),
                }
            })
            .collect()
    })
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fn embedded(name: &str, gzip_ok: bool) -> Option<Body> {
    let p = packed().iter().find(|p| p.name == name)?;
    // Tiny files grow when gzipped: send whichever is smaller.
    let gzip = gzip_ok && p.gzip.len() < p.plain.len();
    let (bytes, etag) = if gzip {
        (&p.gzip, &p.gzip_etag)
    } else {
        (&p.plain, &p.plain_etag)
    };
    Some(Body {
        bytes: bytes.clone(),
        etag: etag.clone(),
        gzip,
    })
}

/// A file of the development folder. Names are plain file names (no folders, no leading
/// dot), so a request can never leave the folder.
fn from_dir(dir: &Path, name: &str) -> Option<Body> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !plain {
        return None;
    }
    let bytes = std::fs::read(dir.join(name)).ok()?;
    let etag = etag(&bytes, "");
    Some(Body {
        bytes: bytes.into(),
        etag,
        gzip: false,
    })
}

fn etag(bytes: &[u8], suffix: &str) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}{suffix}\"")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_page_loads_its_assets_from_this_origin_only() {
        let html = embedded("index.html", false).unwrap().bytes;
        let html = String::from_utf8(html.to_vec()).unwrap();
        assert!(html.contains("/assets/app.js"), "{html}");
        assert!(html.contains("/assets/app.css"), "{html}");
        // The content policy forbids inline code: the page must not need any.
        assert!(!html.contains("<style"), "inline style in index.html");
        assert!(!html.contains(" style="), "style attribute in index.html");
        for script in html.split("<script").skip(1) {
            let open = &script[..script.find('>').unwrap()];
            assert!(
                open.contains("src=\"/assets/"),
                "inline script: <script{open}>"
            );
        }
        assert!(!PAGE_CSP.contains("unsafe"));
    }

    #[test]
    fn every_built_file_is_embedded() {
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
        let mut built: Vec<String> = std::fs::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        built.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(
            built, embedded,
            "web/dist/ and EMBEDDED list different files"
        );
        for a in EMBEDDED {
            assert_eq!(
                std::fs::read(dist.join(a.name)).unwrap(),
                a.bytes,
                "{}",
                a.name
            );
            assert_ne!(
                content_type(a.name),
                "application/octet-stream",
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn gzip_is_sent_only_to_those_who_take_it_and_unpacks_to_the_file() {
        use std::io::Read;
        let ask = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(ask("gzip, deflate, br") && ask("br;q=1.0, gzip;q=0.8") && ask("*"));
        assert!(!ask("br") && !ask("gzip;q=0") && !ask("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
        let js = embedded("app.js", true).unwrap();
        assert!(js.gzip && js.etag.ends_with("-gz\""));
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&js.bytes[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, embedded("app.js", false).unwrap().bytes);
    }

    #[test]
    fn development_folder_names_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), b"x").unwrap();
        assert!(from_dir(dir.path(), "app.js").is_some());
        for bad in ["../etc/passwd", "..", ".env", "a/b", "", "%2e%2e"] {
            assert!(from_dir(dir.path(), bad).is_none(), "{bad}");
        }
    }
}
