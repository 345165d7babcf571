//! Every `/api/*` route against every way of being refused: no token, an expired token, a token
//! signed by another key, `alg: none`, a viewer of system A asking about system B, a technician
//! trying an administrator's action. Each gets 401, 403 or 404 and the store does not change.
//! The route table is the one the router is built from, so a new route is in this test the
//! moment it exists.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use common::Org;
use moose_api::ROUTES;
use moose_auth::tokens::LocalTokens;
use moose_auth::{OrgRole, Rule};
use serde_json::json;

/// Routes that may be called without a token. Adding one is a security decision: add it here
/// deliberately, with a reason.
const PUBLIC: &[&str] = &[
    "POST /api/auth/login",   // exchanging credentials for tokens
    "POST /api/auth/refresh", // exchanging a refresh token for tokens
];

fn instantiate(path: &str, system: &str, user: &str) -> String {
    // A well-formed incident id of `system`, so a route that parses ids gets past the parser.
    path.replace("{incident}", &format!("no_data-1780000000000-{system}"))
        .replace("{system}", system)
        .replace("{user}", user)
        .replace("{key}", "some-key")
        .replace("{notification}", "no_data-1780000000000-A.open.some-user")
}

fn body_for(method: &str) -> Option<serde_json::Value> {
    (method != "GET" && method != "DELETE").then(|| json!({}))
}

#[tokio::test]
async fn every_route_refuses_every_bad_caller_and_changes_nothing() {
    let org = Org::new().await;
    let (viewer_token, _) = org.login("viewer@example.com").await;
    let (tech_token, _) = org.login("tech@example.com").await;
    let secret = org.signing_secret();
    let claims = LocalTokens::new(secret.as_bytes())
        .verify(&viewer_token)
        .unwrap();
    let expired = LocalTokens::new(secret.as_bytes()).issue(&claims.sub, &claims.sid, -3600);
    let foreign = LocalTokens::new(b"a key that is not the server's key at all!!").issue(
        &claims.sub,
        &claims.sid,
        600,
    );
    let payload = viewer_token.split('.').nth(1).unwrap().to_owned();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"none","typ":"JWT","kid":"moose-1"}"#);
    let alg_none = format!("{header}.{payload}.");

    let bad_tokens: [(&str, Option<&str>); 5] = [
        ("no token", None),
        ("expired", Some(&expired)),
        ("signed by another key", Some(&foreign)),
        ("alg none", Some(&alg_none)),
        ("garbage", Some("not-a-token")),
    ];
    let before = org.snapshot();
    let target = org.outsider.to_string();
    let mut checked = 0;
    for route in ROUTES {
        let name = format!("{} {}", route.method, route.path);
        if route.rule == Rule::Public {
            assert!(
                PUBLIC.contains(&name.as_str()),
                "{name} is public but not in the reviewed PUBLIC list"
            );
            continue;
        }
        let path = instantiate(route.path, "A", &target);
        for (what, token) in &bad_tokens {
            let r = org
                .call(route.method, &path, *token, body_for(route.method))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{name} with {what}: {}",
                r.body
            );
            assert_eq!(r.headers["www-authenticate"], "Bearer");
            checked += 1;
        }
        match route.rule {
            Rule::SystemRead | Rule::SystemManage => {
                let r = org
                    .call(
                        route.method,
                        &instantiate(route.path, "B", &target),
                        Some(&viewer_token),
                        body_for(route.method),
                    )
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{name}: a viewer of A asking about B must not learn B exists: {}",
                    r.body
                );
                let missing = org
                    .call(
                        route.method,
                        &instantiate(route.path, "Z", &target),
                        Some(&viewer_token),
                        body_for(route.method),
                    )
                    .await;
                assert_eq!(
                    (missing.status, missing.body.to_string()),
                    (r.status, r.body.to_string()),
                    "{name}: a foreign system and a missing one answer byte for byte the same"
                );
                let r = org
                    .call(
                        route.method,
                        &instantiate(route.path, "Z", &target),
                        Some(&tech_token),
                        body_for(route.method),
                    )
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{name}: a missing system looks the same"
                );
                checked += 2;
                if route.rule == Rule::SystemManage {
                    let r = org
                        .call(
                            route.method,
                            &path,
                            Some(&viewer_token),
                            body_for(route.method),
                        )
                        .await;
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{name}: a viewer of A cannot manage A: {}",
                        r.body
                    );
                    checked += 1;
                }
            }
            Rule::OrgRole(min) if min > OrgRole::Technician => {
                let r = org
                    .call(
                        route.method,
                        &path,
                        Some(&tech_token),
                        body_for(route.method),
                    )
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{name}: a technician cannot do this: {}",
                    r.body
                );
                checked += 1;
            }
            _ => {}
        }
    }
    assert_eq!(
        org.snapshot(),
        before,
        "no refused request changed the store"
    );
    assert!(
        checked > ROUTES.len() * 5,
        "the matrix ran: {checked} checks"
    );
}

#[tokio::test]
async fn members_of_a_system_get_in_and_listing_is_filtered() {
    let org = Org::new().await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let (outsider, _) = org.login("outsider@example.com").await;
    let (manager, _) = org.login("manager@example.com").await;
    let r = org
        .call("GET", "/api/systems/A/members", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    let r = org
        .call("GET", "/api/systems/A/members", Some(&outsider), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = org
        .call("GET", "/api/systems/B/members", Some(&manager), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "fleet managers see every system");

    let mine = org
        .call("GET", "/api/users/me/systems", Some(&viewer), None)
        .await;
    assert_eq!(mine.body["all_systems"], false);
    let systems: Vec<&str> = mine.body["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["A"], "a viewer's list holds only their systems");
    let all = org
        .call("GET", "/api/users/me/systems", Some(&manager), None)
        .await;
    assert_eq!(all.body["all_systems"], true);

    // Granting B to the outsider (by a fleet manager) opens B to them, and revoking closes it.
    let path = format!("/api/systems/B/members/{}", org.outsider);
    let r = org
        .call(
            "PUT",
            &path,
            Some(&manager),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        org.call("GET", "/api/systems/B/members", Some(&outsider), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        org.call("DELETE", &path, Some(&manager), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.call("GET", "/api/systems/B/members", Some(&outsider), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        org.call("DELETE", &path, Some(&manager), None).await.status,
        StatusCode::NOT_FOUND,
        "revoking twice"
    );
    let r = org
        .call(
            "PUT",
            &path,
            Some(&manager),
            Some(json!({"role": "emperor"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an unknown role is named: {}",
        r.body
    );
}

#[tokio::test]
async fn unknown_api_routes_are_404() {
    let org = Org::new().await;
    let r = org.call("GET", "/api/nothing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
