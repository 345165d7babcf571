//! Sign-in, sessions, throttling, profiles, administration, API keys, the chat route's identity
//! rule, the activity log, and that no secret reaches logs or the activity log.

mod common;

use axum::http::StatusCode;
use common::{Org, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn sign_in_refresh_rotation_and_logout() {
    // No grace for a concurrent refresh (the default's 20 s would answer the replay below with
    // 409: `hardening.rs`): a replayed token is a copy at once.
    let org = Org::with_settings(moose_api::AuthSettings {
        refresh_reuse_grace: std::time::Duration::ZERO,
        ..moose_api::AuthSettings::default()
    })
    .await;
    let (access, refresh) = org.login("Viewer@Example.com ").await;
    let me = org.call("GET", "/api/users/me", Some(&access), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "viewer@example.com");
    assert_eq!(me.body["role"], "viewer");

    let r = org
        .call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (access2, refresh2) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(refresh2, refresh, "refresh tokens rotate");
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&access2), None)
            .await
            .status,
        StatusCode::OK
    );

    // Replaying the old refresh token means it was copied: the whole session ends.
    let r = org
        .call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&access2), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        org.call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh2}))
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    let (access3, refresh3) = org.login("viewer@example.com").await;
    assert_eq!(
        org.call("POST", "/api/auth/logout", Some(&access3), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&access3), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "logout revokes at once"
    );
    assert_eq!(
        org.call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh3}))
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same_and_brute_force_is_throttled() {
    let org = Org::new().await;
    let unknown = org.try_login("nobody@example.com", PASSWORD).await;
    let wrong = org.try_login("tech@example.com", "wrong password!").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (unknown.status, &unknown.body),
        (wrong.status, &wrong.body),
        "one uniform answer"
    );

    for _ in 1..moose_auth::PER_ACCOUNT {
        let r = org.try_login("tech@example.com", "guess guess guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = org.try_login("tech@example.com", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits: {}",
        r.body
    );
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let r = org.try_login("viewer@example.com", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "other accounts are not locked out"
    );

    let bad = org
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "x@example.com"})),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "a malformed body names what is missing: {}",
        bad.body
    );
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password")
    );
}

#[tokio::test]
async fn profiles_are_validated_and_changes_are_logged() {
    let org = Org::new().await;
    let (token, _) = org.login("tech@example.com").await;
    let patch = json!({"name": "Tess", "time_zone": "Europe/Vienna", "language": "de", "contacts": {"phone": "+436641234567", "webhook_url": "https://hooks.example.com/x"}});
    let r = org
        .call("PATCH", "/api/users/me", Some(&token), Some(patch))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["name"].as_str(), r.body["time_zone"].as_str()),
        (Some("Tess"), Some("Europe/Vienna"))
    );
    for (bad, field) in [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"language": "german"}), "language"),
        (json!({"contacts": {"phone": "0664 123"}}), "contacts.phone"),
        (
            json!({"contacts": {"webhook_url": "http://insecure.example.com"}}),
            "contacts.webhook_url",
        ),
        (json!({"role": "admin"}), "role"),
    ] {
        let r = org
            .call("PATCH", "/api/users/me", Some(&token), Some(bad))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.body);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "names {field}: {}",
            r.body
        );
    }
    let log = org
        .call("GET", "/api/users/me/activity", Some(&token), None)
        .await;
    let actions: Vec<&str> = log.body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..2],
        ["settings_changed", "sign_in"],
        "newest first: {actions:?}"
    );
    assert!(actions.contains(&"membership_granted"));
}

#[tokio::test]
async fn administrators_invite_change_and_disable_users() {
    let org = Org::new().await;
    let (admin, _) = org.login("admin@example.com").await;
    let r = org
        .call(
            "POST",
            "/api/users",
            Some(&admin),
            Some(json!({"email": "new@example.com", "role": "technician"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let initial = r.body["initial_password"].as_str().unwrap().to_owned();
    let new_id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let dup = org
        .call(
            "POST",
            "/api/users",
            Some(&admin),
            Some(json!({"email": "NEW@example.com", "role": "viewer"})),
        )
        .await;
    assert_eq!(
        dup.status,
        StatusCode::CONFLICT,
        "e-mails are unique: {}",
        dup.body
    );

    let r = org.try_login("new@example.com", &initial).await;
    assert_eq!(r.status, StatusCode::OK);
    let new_token = r.body["access_token"].as_str().unwrap().to_owned();
    let list = org.call("GET", "/api/users", Some(&admin), None).await;
    assert_eq!(list.body["users"].as_array().unwrap().len(), 6);

    let r = org
        .call(
            "PATCH",
            &format!("/api/users/{new_id}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["disabled"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(
        org.call("GET", "/api/users/me", Some(&new_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "disabling ends access at once"
    );
    let r = org
        .call(
            "PATCH",
            &format!("/api/users/{}", org.admin),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no locking yourself out");
    let history = org
        .call(
            "GET",
            &format!("/api/users/{new_id}/activity"),
            Some(&admin),
            None,
        )
        .await;
    let changed = &history.body["activity"][0];
    assert_eq!(changed["action"], "account_changed");
    assert_eq!(changed["actor"], org.admin.as_str());
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revocable() {
    let org = Org::new().await;
    let (admin, _) = org.login("admin@example.com").await;
    let r = org
        .call(
            "POST",
            "/api/api-keys",
            Some(&admin),
            Some(json!({"name": "smoke tests", "role": "admin", "read_only": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let id = r.body["api_key"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mk_"));
    assert_eq!(
        org.call("GET", "/api/users", Some(&key), None).await.status,
        StatusCode::OK,
        "a read-only admin key reads"
    );
    assert_eq!(
        org.call(
            "POST",
            "/api/users",
            Some(&key),
            Some(json!({"email": "k@example.com", "role": "viewer"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // `mk_<id>_<secret>`; the secret itself may contain '_'.
    let secret = key.splitn(3, '_').nth(2).unwrap().to_owned();
    assert!(secret.len() >= 40, "{secret}");
    let listed = org.call("GET", "/api/api-keys", Some(&admin), None).await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is never shown again"
    );
    assert!(
        !org.snapshot().iter().any(|row| row.contains(&secret)),
        "nor stored"
    );
    assert_eq!(
        org.call("DELETE", &format!("/api/api-keys/{id}"), Some(&admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.call("GET", "/api/users", Some(&key), None).await.status,
        StatusCode::UNAUTHORIZED,
        "revoked"
    );
    let tampered = format!("{}x", &key[..key.len() - 1]);
    assert_eq!(
        org.call("GET", "/api/users", Some(&tampered), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn chat_trusts_the_token_not_the_body() {
    let org = Org::new().await;
    let (token, _) = org.login("viewer@example.com").await;
    let other = org.outsider.to_string();
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&token),
            Some(json!({"username": "v", "message": "how is system A?", "user_id": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let before = org.snapshot().len();
    let own = org.viewer.to_string();
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&token),
            Some(json!({"username": "v", "message": "how is system A?", "user_id": own})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mode"], "offline");
    assert!(r.body["response"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        org.snapshot().len(),
        before + 3,
        "the conversation, the question and the answer are stored"
    );
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&token),
            Some(json!({"message": "   "})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message")
    );
    let long = "x".repeat(4001);
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&token),
            Some(json!({"message": long})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// The assistant answers a state-code question from the code table and the knowledge base,
/// with citations, keeps the conversation for its owner only, and deletes it on request.
#[tokio::test]
async fn chat_answers_with_citations_and_keeps_each_users_conversations_to_themselves() {
    let org = Org::new().await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let (admin, _) = org.login("admin@example.com").await;
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&viewer),
            Some(json!({"message": "what does state code 447 mean?"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let text = r.body["response"].as_str().unwrap();
    assert!(text.contains("447"), "{text}");
    let citations = r.body["citations"].as_array().unwrap();
    assert!(
        citations
            .iter()
            .any(|c| c["kind"] == "state_code" && c["code"] == 447),
        "{citations:?}"
    );
    assert!(
        citations
            .iter()
            .any(|c| c["kind"] == "knowledge" && c["heading"].is_string()),
        "{citations:?}"
    );
    let id = r.body["conversation_id"].as_str().unwrap().to_owned();
    // The conversation continues under the same id.
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&viewer),
            Some(json!({"message": "and who should act?", "conversation_id": id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["conversation_id"], id.as_str());
    let r = org
        .call(
            "GET",
            &format!("/api/chat/conversations/{id}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let roles: Vec<&str> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
    let list = org
        .call("GET", "/api/chat/conversations", Some(&viewer), None)
        .await;
    assert_eq!(list.body["conversations"].as_array().unwrap().len(), 1);
    // Another user — an administrator included — neither sees nor continues nor deletes it,
    // and gets the very answer an unknown id gets.
    let unknown = uuid::Uuid::new_v4().to_string();
    for path in [
        format!("/api/chat/conversations/{id}"),
        format!("/api/chat/conversations/{unknown}"),
    ] {
        let r = org.call("GET", &path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["error"]["message"], "no such conversation");
        assert_eq!(
            org.call("DELETE", &path, Some(&admin), None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = org
        .call(
            "POST",
            "/api/chat",
            Some(&admin),
            Some(json!({"message": "continue", "conversation_id": id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        org.call("GET", "/api/chat/conversations", Some(&admin), None)
            .await
            .body["conversations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = org
        .call(
            "DELETE",
            &format!("/api/chat/conversations/{id}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        org.call(
            "GET",
            &format!("/api/chat/conversations/{id}"),
            Some(&viewer),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}
