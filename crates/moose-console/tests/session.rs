//! The console's routes in process over a real SQLite store: the page and its headers, the
//! browser session (sign-in, refresh with rotation, sign-out), and its CSRF guard.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use moose_auth::{AuthService, AuthSettings, OrgRole};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

async fn console() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let auth = AuthService::new(store, AuthSettings::default());
    auth.create_user(
        "ops@example.com",
        OrgRole::Admin,
        None,
        Some(PASSWORD),
        None,
    )
    .await
    .unwrap();
    (
        moose_console::router(auth, moose_console::ConsoleSettings::default()),
        dir,
    )
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    bytes: Vec<u8>,
}

async fn send(app: &axum::Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        bytes,
    }
}

async fn get(app: &axum::Router, path: &str) -> Answer {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

fn post(path: &str, body: Option<Value>, cookie: Option<&str>, csrf: bool) -> Request<Body> {
    let mut req = Request::post(path);
    if csrf {
        req = req.header("x-moose-console", "1");
    }
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

/// The `name=value` part of the answer's `Set-Cookie`, and its attributes.
fn set_cookie(answer: &Answer) -> (String, String) {
    let raw = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let (pair, attrs) = raw.split_once(';').unwrap();
    (pair.to_owned(), attrs.to_owned())
}

fn sign_in_body() -> Value {
    json!({"email": "ops@example.com", "password": PASSWORD})
}

#[tokio::test]
async fn the_page_and_its_assets_carry_a_csp_without_inline_code() {
    let (app, _dir) = console().await;
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = String::from_utf8(page.bytes).unwrap();
    // Everything the page loads comes from a file: no inline script, handler or style.
    assert!(html.contains(r#"<script src="/console/console.js" defer></script>"#));
    for inline in ["<script>", "style=", "onclick=", "onload="] {
        assert!(!html.contains(inline), "inline {inline} in the page");
    }
    let js = get(&app, "/console/console.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // The console never writes a token to web storage, nor builds markup from strings.
    let source = String::from_utf8(js.bytes).unwrap();
    for banned in ["localStorage", "sessionStorage", "innerHTML", "eval("] {
        assert!(!source.contains(banned), "console.js uses {banned}");
    }
    assert!(moose_console::first_load_bytes() < 300 * 1024);
}

#[tokio::test]
async fn sign_in_sets_an_httponly_strict_cookie_and_returns_only_the_access_token() {
    let (app, _dir) = console().await;
    let answer = send(
        &app,
        post("/console/session", Some(sign_in_body()), None, true),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body["access_token"].is_string());
    assert!(
        answer.body.get("refresh_token").is_none(),
        "the refresh token stays in the cookie"
    );
    let (pair, attrs) = set_cookie(&answer);
    assert!(
        pair.starts_with("moose_refresh=") && pair.len() > 30,
        "{pair}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console/session"] {
        assert!(attrs.contains(attr), "{attrs} lacks {attr}");
    }
    assert!(
        !attrs.contains("Secure"),
        "plain http on loopback: no Secure"
    );

    // Behind an https proxy the cookie is Secure.
    let mut req = post("/console/session", Some(sign_in_body()), None, true);
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let answer = send(&app, req).await;
    assert!(set_cookie(&answer).1.contains("Secure"));

    // A wrong password: 401 with a JSON reason and no cookie.
    let wrong = json!({"email": "ops@example.com", "password": "nope"});
    let answer = send(&app, post("/console/session", Some(wrong), None, true)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body["error"]["message"].is_string());
    assert!(!answer.headers.contains_key(header::SET_COOKIE));

    // Malformed: a clear 400.
    let answer = send(
        &app,
        post("/console/session", Some(json!({"email": 1})), None, true),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
}

#[tokio::test]
async fn session_requests_without_the_console_header_are_refused() {
    let (app, _dir) = console().await;
    // What a cross-site form could send: no custom header. Refused before the password is
    // even looked at, so no cookie is set.
    let answer = send(
        &app,
        post("/console/session", Some(sign_in_body()), None, false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(!answer.headers.contains_key(header::SET_COOKIE));
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-moose-console")
    );
    let good = send(
        &app,
        post("/console/session", Some(sign_in_body()), None, true),
    )
    .await;
    let (cookie, _) = set_cookie(&good);
    let answer = send(
        &app,
        post("/console/session/refresh", None, Some(&cookie), false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_rotates_the_cookie_and_a_forged_one_is_deleted() {
    let (app, _dir) = console().await;
    let signed = send(
        &app,
        post("/console/session", Some(sign_in_body()), None, true),
    )
    .await;
    let (first, _) = set_cookie(&signed);
    let refreshed = send(
        &app,
        post("/console/session/refresh", None, Some(&first), true),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(refreshed.body["access_token"].is_string());
    let (second, _) = set_cookie(&refreshed);
    assert_ne!(first, second, "the refresh token rotates");

    // The newest cookie works once more; no cookie at all is a 401.
    let again = send(
        &app,
        post("/console/session/refresh", None, Some(&second), true),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    let none = send(&app, post("/console/session/refresh", None, None, true)).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // A forged cookie: 401 and the cookie is deleted.
    let forged = send(
        &app,
        post(
            "/console/session/refresh",
            None,
            Some("moose_refresh=abc.def"),
            true,
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&forged).1.contains("Max-Age=0"));

    // Sign-out deletes the cookie.
    let req = Request::delete("/console/session")
        .header("x-moose-console", "1")
        .body(Body::empty())
        .unwrap();
    let out = send(&app, req).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let (pair, attrs) = set_cookie(&out);
    assert_eq!(pair, "moose_refresh=");
    assert!(attrs.contains("Max-Age=0"));
}

const JWT_SECRET: &str = "a-legacy-supabase-jwt-secret-of-32-bytes";

/// The console over a store whose authentication trusts `supabase`'s tokens, offering
/// Supabase sign-in with `anon_key`.
async fn console_with_supabase(
    supabase: &moose_fakes::supabase::FakeSupabaseAuth,
    anon_key: &str,
) -> (axum::Router, AuthService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let settings = AuthSettings {
        supabase_url: Some(supabase.url().to_owned()),
        supabase_jwt_secret: Some(moose_domain::Secret::new(JWT_SECRET)),
        ..AuthSettings::default()
    };
    let auth = AuthService::new(store, settings);
    let console = moose_console::ConsoleSettings {
        supabase: Some(moose_console::SupabaseProject {
            url: supabase.url().to_owned(),
            anon_key: moose_domain::Secret::new(anon_key),
        }),
        tiles: None,
    };
    (moose_console::router(auth.clone(), console), auth, dir)
}

#[tokio::test]
async fn supabase_accounts_sign_in_and_refresh_through_the_server() {
    let supabase = moose_fakes::supabase::FakeSupabaseAuth::start("anon-key", JWT_SECRET).await;
    let sub = supabase.add_user("field@example.com", "supabase password 1");
    let (app, auth, _dir) = console_with_supabase(&supabase, "anon-key").await;

    let providers = get(&app, "/console/session").await;
    assert_eq!(providers.body["providers"], json!(["local", "supabase"]));

    let wrong = json!({"email": "field@example.com", "password": "nope", "provider": "supabase"});
    let answer = send(&app, post("/console/session", Some(wrong), None, true)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert!(!answer.headers.contains_key(header::SET_COOKIE));

    let right = json!({"email": "field@example.com", "password": "supabase password 1", "provider": "supabase"});
    let answer = send(&app, post("/console/session", Some(right), None, true)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The page gets a Supabase access token that Moose accepts as that user (a viewer: roles
    // are granted in Moose, never taken from the token).
    let token = answer.body["access_token"].as_str().unwrap();
    let principal = auth.authenticate(token).await.unwrap();
    assert_eq!(principal.user.id.to_string(), sub);
    assert_eq!(principal.user.role, OrgRole::Viewer);
    let (cookie, attrs) = set_cookie(&answer);
    assert!(cookie.starts_with("moose_refresh=sb."), "{cookie}");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"));

    // Refresh goes to Supabase, which rotates its token; the used one is refused afterwards
    // and its cookie deleted.
    let refreshed = send(
        &app,
        post("/console/session/refresh", None, Some(&cookie), true),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(
        auth.authenticate(refreshed.body["access_token"].as_str().unwrap())
            .await
            .is_ok()
    );
    let (rotated, _) = set_cookie(&refreshed);
    assert_ne!(rotated, cookie);
    let reused = send(
        &app,
        post("/console/session/refresh", None, Some(&cookie), true),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&reused).1.contains("Max-Age=0"));
    assert_eq!(supabase.issued(), 2);
}

#[tokio::test]
async fn supabase_sign_in_is_refused_clearly_when_it_is_not_set_up_or_misconfigured() {
    // Not configured: the page offers only local accounts, and asking for Supabase is a 400.
    let (app, _dir) = console().await;
    let providers = get(&app, "/console/session").await;
    assert_eq!(providers.body["providers"], json!(["local"]));
    let body = json!({"email": "a@example.com", "password": "whatever1", "provider": "supabase"});
    let answer = send(
        &app,
        post("/console/session", Some(body.clone()), None, true),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SUPABASE_ANON_KEY")
    );

    // A wrong anon key: Supabase says 401, the user gets a 503 (it is not their password) and
    // the key appears nowhere in the answer.
    let supabase = moose_fakes::supabase::FakeSupabaseAuth::start("anon-key", JWT_SECRET).await;
    supabase.add_user("a@example.com", "whatever1");
    let (app, _auth, _dir) = console_with_supabase(&supabase, "not-the-anon-key").await;
    let answer = send(&app, post("/console/session", Some(body), None, true)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert!(!String::from_utf8_lossy(&answer.bytes).contains("not-the-anon-key"));
}

#[tokio::test]
async fn signing_out_ends_the_supabase_session_at_supabase() {
    let supabase = moose_fakes::supabase::FakeSupabaseAuth::start("anon-key", JWT_SECRET).await;
    supabase.add_user("field@example.com", "supabase password 1");
    let (app, _auth, _dir) = console_with_supabase(&supabase, "anon-key").await;
    let body = json!({"email": "field@example.com", "password": "supabase password 1", "provider": "supabase"});
    let signed_in = send(&app, post("/console/session", Some(body), None, true)).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(supabase.live_refresh_tokens(), 1);
    let (cookie, _) = set_cookie(&signed_in);
    let out = send(
        &app,
        Request::delete("/console/session")
            .header("x-moose-console", "1")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(set_cookie(&out).1.contains("Max-Age=0"));
    // Supabase no longer honours any refresh token of that session, so a copied cookie is dead.
    assert_eq!(supabase.live_refresh_tokens(), 0);
    let again = send(
        &app,
        post("/console/session/refresh", None, Some(&cookie), true),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn supabase_sign_in_is_throttled_like_a_local_one_before_supabase_is_asked() {
    let supabase = moose_fakes::supabase::FakeSupabaseAuth::start("anon-key", JWT_SECRET).await;
    supabase.add_user("a@example.com", "the-right-one");
    let (app, _auth, _dir) = console_with_supabase(&supabase, "anon-key").await;
    let wrong = json!({"email": "a@example.com", "password": "a-guess", "provider": "supabase"});
    for _ in 0..moose_auth::PER_ACCOUNT {
        let answer = send(
            &app,
            post("/console/session", Some(wrong.clone()), None, true),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    assert_eq!(supabase.password_grants(), moose_auth::PER_ACCOUNT as u64);
    // The account is at its limit: even the right password waits, and Supabase is not asked.
    let right =
        json!({"email": "A@example.com ", "password": "the-right-one", "provider": "supabase"});
    let answer = send(&app, post("/console/session", Some(right), None, true)).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    assert_eq!(supabase.password_grants(), moose_auth::PER_ACCOUNT as u64);
}

/// The CSP's `img-src` sources.
fn img_sources(answer: &Answer) -> Vec<String> {
    let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    let directive = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src "))
        .unwrap_or_else(|| panic!("no img-src in {csp}"));
    directive
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn without_a_tile_server_the_page_loads_images_from_itself_only() {
    let (app, _dir) = console().await;
    let page = get(&app, "/").await;
    assert_eq!(img_sources(&page), ["'self'", "data:"]);
    let config = get(&app, "/console/session").await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.body["tiles"], Value::Null);
    assert_eq!(config.body["providers"], json!(["local"]));
}

#[tokio::test]
async fn a_configured_tile_server_is_told_to_the_page_and_allowed_by_the_csp() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let auth = AuthService::new(store, AuthSettings::default());
    let settings = |attribution: Option<&str>| moose_console::ConsoleSettings {
        tiles: Some(moose_console::TileLayer {
            url: moose_domain::TileUrl::parse("https://tiles.example.org:8443/osm/{z}/{x}/{y}.png")
                .unwrap(),
            attribution: attribution.map(str::to_owned),
        }),
        ..Default::default()
    };
    let app = moose_console::router(auth.clone(), settings(Some("© OpenStreetMap contributors")));
    for path in ["/", "/console/console.js", "/console/session"] {
        let answer = get(&app, path).await;
        assert_eq!(
            img_sources(&answer),
            ["'self'", "data:", "https://tiles.example.org:8443"],
            "{path}"
        );
    }
    let config = get(&app, "/console/session").await;
    assert_eq!(
        config.body["tiles"],
        json!({"url": "https://tiles.example.org:8443/osm/{z}/{x}/{y}.png",
               "attribution": "© OpenStreetMap contributors"})
    );
    // No attribution configured: the page still credits the tile host.
    let app = moose_console::router(auth, settings(None));
    let config = get(&app, "/console/session").await;
    assert_eq!(
        config.body["tiles"]["attribution"],
        "Map tiles: https://tiles.example.org:8443"
    );
}
