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

/// The built app (`web/dist/`), checked against its sources by `scripts/web.sh check`.
const EMBEDDED: &[Asset] = &[
    Asset {
        name: "index.html",
        bytes: include_bytes!("../../../../web/dist/index.html"),
    },
    Asset {
        name: "app.js",
        bytes: include_bytes!("../../../../web/dist/app.js"),
    },
    Asset {
        name: "app.css",
        bytes: include_bytes!("../../../../web/dist/app.css"),
    },
    Asset {
        name: "favicon.svg",
        bytes: include_bytes!("../../../../web/dist/favicon.svg"),
    },
    Asset {
        name: "THIRD-PARTY-LICENSES.txt",
        bytes: include_bytes!("../../../../web/dist/THIRD-PARTY-LICENSES.txt"),
    },
];

/// The app's routes: its pages (all answered by `index.html`) and `/assets/{name}`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/leaderboard", get(page))
        .route("/exercises/{id}", get(page))
        .route("/submissions/{id}", get(page))
        .route("/assets/{name}", get(asset))
        .layer(tower_http::compression::CompressionLayer::new())
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

fn serve(state: &AppState, name: &str, headers: &HeaderMap) -> Response {
    let found = match &state.settings().web_dir {
        Some(dir) => from_dir(dir, name),
        None => embedded(name),
    };
    let Some((bytes, etag)) = found else {
        return ApiError::NoRoute.into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

fn embedded(name: &str) -> Option<(Vec<u8>, String)> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| EMBEDDED.iter().map(|a| etag(a.bytes)).collect());
    EMBEDDED
        .iter()
        .zip(etags)
        .find(|(a, _)| a.name == name)
        .map(|(a, tag)| (a.bytes.to_vec(), tag.clone()))
}

/// A file of the development folder. Names are plain file names (no folders, no leading
/// dot), so a request can never leave the folder.
fn from_dir(dir: &Path, name: &str) -> Option<(Vec<u8>, String)> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !plain {
        return None;
    }
    let bytes = std::fs::read(dir.join(name)).ok()?;
    let tag = etag(&bytes);
    Some((bytes, tag))
}

fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
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
        let (html, _) = embedded("index.html").unwrap();
        let html = String::from_utf8(html).unwrap();
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
    fn development_folder_names_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), b"x").unwrap();
        assert!(from_dir(dir.path(), "app.js").is_some());
        for bad in ["../etc/passwd", "..", ".env", "a/b", "", "%2e%2e"] {
            assert!(from_dir(dir.path(), bad).is_none(), "{bad}");
        }
    }
}
