//! The master's web UI: the files of the page served at `/`, embedded in the binary.
//!
//! Mesos's master serves its Angular UI from `--webui_dir` (`src/master/master.cpp`
//! `provide("", path::join(flags.webui_dir, "app/index.html"))`, `provide("app", ...)`,
//! `provide("assets", ...)`; the pages are `src/webui/app/`). Ours is one hand-written HTML
//! page, one ES module and one style sheet under `webui/`, compiled in with `include_bytes!`,
//! so the binary serves them with nothing to install and no build step. What the page shows
//! and how it reads the cluster is in the module's opening comment (`webui/app.js`).
//!
//! Paths, as Mesos's routes deliver them: `/` (also `/master`, `/master/`) is the page;
//! `/app/app.js` and `/assets/css/remesos.css` its script and style (also under
//! `/master/...`, libprocess's delegation). Any other path under `/app` or `/assets` is 404.
//!
//! Every answer carries:
//! - `Content-Type` with the charset;
//! - `Cache-Control: no-cache` and an `ETag` (CRC-32C of the file): the browser keeps the
//!   file and revalidates it on each load (`304 Not Modified` while it is unchanged), so an
//!   upgraded master is never shown with an old script;
//! - a `Content-Security-Policy` that lets the page load only its own script and style and
//!   connect only to its own origin (`default-src 'none'`, no inline script or style, no
//!   frames, no forms); the script never puts cluster data into HTML (it builds DOM nodes
//!   and sets text), so a task name cannot become markup;
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
//!
//! Only `GET` and `HEAD` are served (`405` otherwise, with `Allow: GET`, as Mesos's
//! read-only endpoints).

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
struct Asset {
    /// Its path after the `/master` prefix is removed.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("webui/index.html"),
    },
    Asset {
        path: "/app/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("webui/app.js"),
    },
    Asset {
        path: "/assets/css/remesos.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("webui/remesos.css"),
    },
];

/// The page's policy (module doc).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Each asset's `ETag`, in [`ASSETS`]'s order.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{:08x}\"", crc32c::crc32c(a.body)))
        .collect()
});

/// The asset `path` names: the delegated `/master` prefix and trailing `/`s do not count.
fn find(path: &str) -> Option<usize> {
    let path = path.strip_prefix("/master").unwrap_or(path);
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    ASSETS.iter().position(|a| a.path == path)
}

/// The answer to `method path` with `headers` (module doc).
pub fn serve(method: &Method, headers: &HeaderMap, path: &str) -> Response {
    if let Some(refused) = super::operator::get_only(method) {
        return refused;
    }
    let Some(index) = find(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, asset.body).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &HeaderMap) -> Response {
        serve(&Method::GET, headers, path)
    }

    /// `master.cpp` `provide("", ".../index.html")`, and libprocess's delegation of `/` to
    /// `/master`: the page is one file under all its names.
    #[test]
    fn the_page_is_served_at_the_root_and_under_master() {
        for path in ["/", "//", "/master", "/master/"] {
            let r = get(path, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
        }
        let js = get("/master/app/app.js", &HeaderMap::new());
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            get("/app/nothing.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    /// Every answer carries the policy and revalidates by `ETag`: a matching
    /// `If-None-Match` is `304`.
    #[test]
    fn assets_carry_the_policy_and_revalidate_by_etag() {
        let r = get("/assets/css/remesos.css", &HeaderMap::new());
        assert_eq!(
            r.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = r.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            get("/assets/css/remesos.css", &headers).status(),
            StatusCode::NOT_MODIFIED
        );
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"0\""));
        assert_eq!(
            get("/assets/css/remesos.css", &headers).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn only_get_and_head_are_served() {
        let r = serve(&Method::POST, &HeaderMap::new(), "/");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET");
    }
}
