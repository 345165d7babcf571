//! Regression tests for the findings of the outside security and robustness evaluation
//! (issue 11). Each test names the finding it covers.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use common::{Org, PASSWORD};
use moose_auth::{Membership, OrgRole, SystemRole};
use moose_domain::{SystemId, UserId};
use serde_json::{Value, json};

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Finding 1: the store holds no session id that, with the signing key read from the same
/// store, would make a valid token for a live session.
#[tokio::test]
async fn the_store_holds_no_usable_session_id() {
    let org = Org::new().await;
    let (access, _) = org.login("admin@example.com").await;
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let sid = claims["sid"].as_str().unwrap();
    assert!(sid.len() >= 20, "a real session id: {sid}");
    let rows = org.snapshot();
    assert!(
        rows.iter().any(|r| r.starts_with("Session#")),
        "the session is stored"
    );
    assert!(
        rows.iter().all(|r| !r.contains(sid)),
        "no stored item contains the session id"
    );
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&access), None)
            .await
            .status,
        StatusCode::OK,
        "the session still works"
    );
}

async fn create_key(org: &Org, token: &str, role: &str) -> String {
    let r = org
        .call(
            "POST",
            "/api/api-keys",
            Some(token),
            Some(json!({"name": "automation", "role": role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["key"].as_str().unwrap().to_owned()
}

/// Finding 2: a key never acts above its creator's current role, and stops with its creator.
#[tokio::test]
async fn api_keys_follow_their_creators_current_role() {
    let org = Org::new().await;
    let (second, _) = state_admin(&org, "second-admin@example.com").await;
    let (second_token, _) = org.login("second-admin@example.com").await;
    let key = create_key(&org, &second_token, "admin").await;
    assert_eq!(
        org.call("GET", "/api/users", Some(&key), None).await.status,
        StatusCode::OK
    );

    let (admin, _) = org.login("admin@example.com").await;
    let demote = org
        .call(
            "PATCH",
            &format!("/api/users/{second}"),
            Some(&admin),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.body);
    assert_eq!(
        org.call("GET", "/api/users", Some(&key), None).await.status,
        StatusCode::FORBIDDEN,
        "the demoted creator's key lost its admin power"
    );
    let create = org
        .call(
            "POST",
            "/api/users",
            Some(&key),
            Some(json!({"email": "mallory@example.com", "role": "admin"})),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.body);
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&key), None)
            .await
            .body["role"],
        "viewer",
        "the key acts as its creator's role now"
    );

    let disable = org
        .call(
            "PATCH",
            &format!("/api/users/{second}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(disable.status, StatusCode::OK);
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&key), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a disabled creator's keys stop working"
    );
}

async fn state_admin(org: &Org, email: &str) -> (UserId, ()) {
    let (user, _) = org
        .state
        .auth
        .create_user(email, OrgRole::Admin, None, Some(PASSWORD), None)
        .await
        .unwrap();
    (user.id, ())
}

/// Finding 3: concurrent wrong passwords cannot get past the limit.
#[tokio::test]
async fn concurrent_sign_in_attempts_cannot_exceed_the_limit() {
    let org = Org::new().await;
    let attempts = (0..30).map(|_| org.try_login("viewer@example.com", "wrong-password-123"));
    let results = futures_util::future::join_all(attempts).await;
    let evaluated = results
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = results
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(evaluated + throttled, 30, "only 401 and 429");
    assert!(
        evaluated <= moose_auth::PER_ACCOUNT,
        "{evaluated} of 30 concurrent guesses were evaluated"
    );
    assert!(results.iter().all(|r| r.status != StatusCode::OK));
}

struct Members {
    org: Org,
    owner: UserId,
    installer: UserId,
    owner_token: String,
    installer_token: String,
}

async fn members() -> Members {
    let org = Org::new().await;
    let mut ids = Vec::new();
    for email in ["owner@example.com", "installer@example.com"] {
        let (u, _) = org
            .state
            .auth
            .create_user(email, OrgRole::Viewer, None, Some(PASSWORD), None)
            .await
            .unwrap();
        ids.push(u.id);
    }
    let admin = org.principal(&org.admin).await;
    for (user, role) in [
        (&ids[0], SystemRole::Owner),
        (&ids[1], SystemRole::Installer),
    ] {
        org.state
            .auth
            .grant(
                &admin,
                Membership {
                    system: SystemId::parse("A").unwrap(),
                    user: user.clone(),
                    role,
                },
            )
            .await
            .unwrap();
    }
    let (owner_token, _) = org.login("owner@example.com").await;
    let (installer_token, _) = org.login("installer@example.com").await;
    Members {
        owner: ids[0].clone(),
        installer: ids[1].clone(),
        org,
        owner_token,
        installer_token,
    }
}

async fn put_member(m: &Members, token: &str, user: &UserId, role: &str) -> StatusCode {
    m.org
        .call(
            "PUT",
            &format!("/api/systems/A/members/{user}"),
            Some(token),
            Some(json!({"role": role})),
        )
        .await
        .status
}

async fn delete_member(m: &Members, token: &str, user: &UserId) -> StatusCode {
    m.org
        .call(
            "DELETE",
            &format!("/api/systems/A/members/{user}"),
            Some(token),
            None,
        )
        .await
        .status
}

/// Finding 4: who may grant which system role.
#[tokio::test]
async fn membership_changes_follow_the_rules() {
    let m = members().await;
    let (installer, owner) = (&m.installer_token, &m.owner_token);
    let (admin, _) = m.org.login("admin@example.com").await;
    let (manager, _) = m.org.login("manager@example.com").await;

    // An installer cannot make itself (or anyone) an owner, nor touch the owner.
    assert_eq!(
        put_member(&m, installer, &m.installer, "owner").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_member(&m, installer, &m.org.outsider, "owner").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete_member(&m, installer, &m.owner).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_member(&m, installer, &m.owner, "viewer").await,
        StatusCode::FORBIDDEN
    );
    // … but manages everyone below owner.
    assert_eq!(
        put_member(&m, installer, &m.org.outsider, "technician").await,
        StatusCode::OK
    );
    assert_eq!(
        delete_member(&m, installer, &m.org.outsider).await,
        StatusCode::NO_CONTENT
    );
    // A fleet manager manages below owner too.
    assert_eq!(
        put_member(&m, &manager, &m.org.outsider, "owner").await,
        StatusCode::FORBIDDEN
    );
    // Nobody else removes the last owner, not even an administrator.
    assert_eq!(
        delete_member(&m, &admin, &m.owner).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_member(&m, &admin, &m.owner, "installer").await,
        StatusCode::FORBIDDEN
    );
    // With a second owner, an administrator may.
    assert_eq!(
        put_member(&m, owner, &m.org.outsider, "owner").await,
        StatusCode::OK,
        "owners make owners"
    );
    assert_eq!(
        delete_member(&m, &admin, &m.owner).await,
        StatusCode::NO_CONTENT
    );
    // The remaining owner may step down by their own hand.
    let (outsider, _) = m.org.login("outsider@example.com").await;
    assert_eq!(
        delete_member(&m, &outsider, &m.org.outsider).await,
        StatusCode::NO_CONTENT
    );
}

/// Finding 7: webhook URLs are judged by their parsed host.
#[tokio::test]
async fn webhook_urls_with_userinfo_are_refused() {
    let org = Org::new().await;
    let (token, _) = org.login("viewer@example.com").await;
    for (url, status) in [
        (
            "http://localhost:1@example.com/hook",
            StatusCode::BAD_REQUEST,
        ),
        (
            "https://user:pw@hooks.example.com/",
            StatusCode::BAD_REQUEST,
        ),
        ("http://localhost.example.com/", StatusCode::BAD_REQUEST),
        ("http://localhost:9000/hook", StatusCode::OK),
        ("https://hooks.example.com/moose", StatusCode::OK),
    ] {
        let r = org
            .call(
                "PATCH",
                "/api/users/me",
                Some(&token),
                Some(json!({"contacts": {"webhook_url": url}})),
            )
            .await;
        assert_eq!(r.status, status, "{url}: {}", r.body);
        if status == StatusCode::BAD_REQUEST {
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("webhook_url"),
                "{}",
                r.body
            );
        }
    }
}

/// Finding 9: a refresh token made up from the session id in an access token does not sign
/// the user out; the real replaced token does once it is no longer a race (it proves a copy).
#[tokio::test]
async fn a_forged_refresh_token_does_not_end_the_session() {
    let org = Org::new().await;
    let (access, refresh) = org.login("viewer@example.com").await;
    let sid = refresh.split('.').next().unwrap();
    for forged in [
        format!("{sid}.x"),
        format!("{sid}."),
        format!("{sid}.{}", "y".repeat(43)),
    ] {
        assert_eq!(
            org.try_refresh(&forged).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&access), None)
            .await
            .status,
        StatusCode::OK,
        "the session survived the forged refresh tokens"
    );
    let rotated = org.try_refresh(&refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "the real token still works");
    let new_access = rotated.body["access_token"].as_str().unwrap().to_owned();
    let newest = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    // Moments after the rotation the replaced token is a concurrent refresh (two tabs), not a
    // copy: 409, and the session lives on. (Later it ends the session: moose-auth's
    // `a_replaced_refresh_token_is_a_race_at_first_and_a_copy_later`.)
    let race = org.try_refresh(&refresh).await;
    assert_eq!(race.status, StatusCode::CONFLICT, "{}", race.body);
    assert!(race.body["access_token"].is_null(), "{}", race.body);
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&new_access), None)
            .await
            .status,
        StatusCode::OK,
        "a concurrent refresh does not end the session"
    );
    assert_eq!(org.try_refresh(&newest).await.status, StatusCode::OK);
}

/// Finding 10: a bad page cursor is a 400 naming `cursor`.
#[tokio::test]
async fn bad_cursors_are_client_errors() {
    let org = Org::new().await;
    let (token, _) = org.login("admin@example.com").await;
    // `41` is the hex of "A": a position like any other, no longer a store error.
    let r = org
        .call("GET", "/api/systems?cursor=41", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["systems"][0]["id"], "B");
    for cursor in ["a%C3%A9a", "zz", "4", "%00", "2323", "%C3%A9%C3%A9"] {
        let r = org
            .call(
                "GET",
                &format!("/api/systems?cursor={cursor}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{cursor}: {}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cursor"),
            "{}",
            r.body
        );
    }
    // Real cursors still page through every system once.
    let mut seen = Vec::new();
    let mut uri = "/api/systems?limit=1".to_owned();
    loop {
        let r = org.call("GET", &uri, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for s in r.body["systems"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/systems?limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() < 10, "paging terminates");
    }
    assert_eq!(seen, ["A", "B"]);
}

/// Finding 11: overlong strings are refused before they reach the store.
#[tokio::test]
async fn overlong_inputs_are_client_errors() {
    let org = Org::new().await;
    let (admin, _) = org.login("admin@example.com").await;
    let r = org
        .try_login(&"a".repeat(100_000), "whatever-password")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let r = org
        .try_login("viewer@example.com", &"p".repeat(100_000))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = org
        .call(
            "DELETE",
            &format!("/api/api-keys/{}", "k".repeat(5000)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = org
        .call(
            "DELETE",
            &format!("/api/api-keys/{}", "k".repeat(200)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let long_key = format!("mk_{}_{}", "i".repeat(3000), "s".repeat(3000));
    let r = org
        .call("GET", "/api/users/me", Some(&long_key), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = org
        .call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": format!("{}.x", "s".repeat(5000))})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = org
        .call(
            "POST",
            &format!("/api/notifications/{}/read", "n".repeat(5000)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

/// Finding 12: dates outside what the calendar and store support are a 400.
#[tokio::test]
async fn out_of_range_dates_are_client_errors() {
    let org = Org::new().await;
    let (token, _) = org.login("admin@example.com").await;
    for query in [
        "energy?period=month&from=9999-01-01&to=9999-12-31",
        "energy?period=year&from=-009999-01-01&to=9999-12-01",
        "energy?period=day&from=1900-01-01&to=1900-01-02",
        "kpis?from=9999-12-01&to=9999-12-31",
        "production?from=9999-12-30&to=9999-12-31",
        "production?from=-009999-01-01T00:00:00Z&to=2026-01-01",
    ] {
        let r = org
            .call(
                "GET",
                &format!("/api/systems/A/{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert_eq!(error_code(&r.body), "invalid_query");
    }
}

/// Finding 13: undecodable path segments get a JSON 400, like every other rejection.
#[tokio::test]
async fn undecodable_path_segments_are_json_errors() {
    let org = Org::new().await;
    let (admin, _) = org.login("admin@example.com").await;
    for (method, uri) in [
        ("DELETE", "/api/api-keys/%FF%FE"),
        ("GET", "/api/incidents/%FF%FE"),
        ("POST", "/api/incidents/%FF%FE/ack"),
        ("POST", "/api/notifications/%FF%FE/read"),
        ("PATCH", "/api/users/%FF%FE"),
        ("GET", "/api/users/%FF%FE/activity"),
    ] {
        let body = (method == "PATCH").then(|| json!({"role": "viewer"}));
        let r = org.call(method, uri, Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {uri}");
        assert_eq!(
            r.headers["content-type"], "application/json",
            "{method} {uri}"
        );
        assert_eq!(
            error_code(&r.body),
            "invalid_path",
            "{method} {uri}: {}",
            r.body
        );
    }
    // A system id that does not decode answers like a missing system.
    let r = org
        .call("GET", "/api/systems/%FF%FE", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers["content-type"], "application/json");
}
