//! The web console of `moose serve`.
//!
//! A single-page application written in plain JavaScript, HTML and CSS (`assets/`), embedded in
//! the binary at build time, so building Moose needs no JavaScript toolchain and the console
//! works offline. It talks only to the public API (`/api/*`) with a bearer token, so it can
//! show nothing the API would not show the same user.
//!
//! Browser security, decided here once:
//! - the access token lives only in the page's memory; the refresh token is an `HttpOnly`,
//!   `SameSite=Strict` cookie scoped to `/console/session` (and `Secure` behind https), so
//!   script injected into the page could not read a long-lived credential (see [`session`]);
//! - the session endpoints require the `X-Moose-Console` header, which a cross-site form
//!   cannot send and a cross-site script cannot send without a CORS preflight Moose never
//!   grants: the CSRF protection of the only cookie-authenticated requests;
//! - every console response carries a Content-Security-Policy without `unsafe-inline`
//!   (scripts and styles only from this origin, images also from the configured tile server;
//!   no frames), `nosniff`, no referrer.

pub mod session;
mod supabase;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use moose_auth::AuthService;
use moose_domain::TileUrl;

/// The console's Content-Security-Policy: nothing inline, nothing from elsewhere, except
/// images from the map's tile server when one is configured.
pub fn content_security_policy(tiles: Option<&TileUrl>) -> String {
    let tile_origin = tiles
        .map(|t| format!(" {}", t.origin()))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:{tile_origin}; connect-src 'self'; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file of the console. Third-party code: none (the chart and map are drawn as SVG by
/// `console.js`), so there is nothing to vendor or license.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/console/console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/console.js"),
    },
    Asset {
        path: "/console/console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/console.css"),
    },
    Asset {
        path: "/console/icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/icon.svg"),
    },
];

const INDEX: &[u8] = include_bytes!("../assets/index.html");

/// The bytes a browser downloads on the first visit of the console (the page and every asset),
/// uncompressed: the figure the first-load budget is checked against.
pub fn first_load_bytes() -> usize {
    INDEX.len() + ASSETS.iter().map(|a| a.body.len()).sum::<usize>()
}

/// How the console signs people in.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// Supabase sign-in (e-mail and password against the project's Auth), offered beside local
    /// accounts when the project URL and its anon key are configured.
    pub supabase: Option<SupabaseProject>,
    /// Map tiles under the fleet map; `None`, the map is drawn without tiles (and needs no
    /// network).
    pub tiles: Option<TileLayer>,
}

/// A slippy-map tile server the fleet map draws its background from.
#[derive(Debug, Clone)]
pub struct TileLayer {
    /// `MOOSE_CONSOLE_TILE_URL`.
    pub url: TileUrl,
    /// `MOOSE_CONSOLE_TILE_ATTRIBUTION`: the credit the provider requires (else its host).
    pub attribution: Option<String>,
}

/// A Supabase project the console signs in against.
#[derive(Debug, Clone)]
pub struct SupabaseProject {
    /// `SUPABASE_URL`.
    pub url: String,
    /// `SUPABASE_ANON_KEY`: the project's public key, sent as `apikey` to Supabase Auth.
    pub anon_key: moose_domain::Secret,
}

/// What the session handlers share.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub(crate) auth: AuthService,
    pub(crate) supabase: Option<Arc<supabase::Client>>,
    pub(crate) tiles: Option<TileLayer>,
}

/// The console's routes: the page at `/`, its assets under `/console/`, and the browser session
/// under `/console/session`. Merged into the API router by `moose serve` (not on Lambda,
/// where API Gateway serves only the API).
pub fn router(auth: AuthService, settings: ConsoleSettings) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(
        settings.tiles.as_ref().map(|t| &t.url),
    ))
    .expect("a TileUrl's origin is a valid header value");
    let console = Console {
        auth,
        tiles: settings.tiles,
        supabase: settings
            .supabase
            .map(|p| Arc::new(supabase::Client::new(p))),
    };
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/session",
            get(session::providers)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/console/session/refresh", post(session::refresh));
    for asset in ASSETS {
        let (body, content_type) = (asset.body, asset.content_type);
        router = router.route(
            asset.path,
            get(move || async move { page(body, content_type) }),
        );
    }
    router
        .with_state(console)
        .layer(axum::middleware::map_response(move |r| {
            security_headers(r, csp.clone())
        }))
}

fn page(body: &'static [u8], content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidate every time: the files change with the binary, and they are small.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The headers every console response carries (pages, assets, session answers).
async fn security_headers(mut response: Response, csp: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
