//! Supabase tokens: keys the test generates, a JWKS served over real HTTP on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::extract::State;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use moose_auth::supabase::SupabaseVerifier;
use moose_auth::{AuthService, AuthSettings, Credential, OrgRole};
use moose_domain::Secret;
use serde_json::{Value, json};

struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn new_key(kid: &str) -> Key {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let point = pair.public_key().as_ref(); // 0x04 || X || Y
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]), "kid": kid, "alg": "ES256", "use": "sig"});
    Key {
        kid: kid.into(),
        pkcs8: doc.as_ref().to_vec(),
        jwk,
    }
}

struct Project {
    url: String,
    jwks: Arc<Mutex<Value>>,
}

async fn jwks(State(keys): State<Arc<Mutex<Value>>>) -> Json<Value> {
    Json(keys.lock().unwrap().clone())
}

async fn project(keys: &[&Key]) -> Project {
    let jwks_doc = Arc::new(Mutex::new(
        json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
    ));
    let app = axum::Router::new()
        .route("/auth/v1/.well-known/jwks.json", axum::routing::get(jwks))
        .with_state(Arc::clone(&jwks_doc));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Project {
        url,
        jwks: jwks_doc,
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn claims(project: &Project, sub: &str) -> Value {
    json!({"sub": sub, "email": "Ann@Example.com", "aud": "authenticated", "iss": format!("{}/auth/v1", project.url),
           "role": "authenticated", "iat": now(), "exp": now() + 3600})
}

fn sign_es256(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.pkcs8)).unwrap()
}

fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn accepts_valid_tokens_and_rejects_every_forgery() {
    let k1 = new_key("k1");
    let p = project(&[&k1]).await;
    let v = SupabaseVerifier::new(&p.url, None);
    let sub = "6f1b2c3d-0000-4000-8000-000000000001";
    assert_eq!(
        v.verify(&sign_es256(&k1, &claims(&p, sub)))
            .await
            .unwrap()
            .sub,
        sub
    );

    let mut expired = claims(&p, sub);
    expired["exp"] = json!(now() - 120);
    let mut not_yet = claims(&p, sub);
    not_yet["nbf"] = json!(now() + 600);
    let mut wrong_aud = claims(&p, sub);
    wrong_aud["aud"] = json!("anon");
    let mut other_project = claims(&p, sub);
    other_project["iss"] = json!("https://another-project.supabase.co/auth/v1");
    let stranger = new_key("k1"); // same kid, different key
    let good = sign_es256(&k1, &claims(&p, sub));
    let parts: Vec<&str> = good.split('.').collect();
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        parts[1]
    );
    // Algorithm confusion: an HS256 token "signed" with the public key as the HMAC secret.
    let confused = sign_hs256(k1.jwk.to_string().as_bytes(), &claims(&p, sub));
    let cases = [
        ("expired", sign_es256(&k1, &expired)),
        ("not yet valid", sign_es256(&k1, &not_yet)),
        ("wrong audience", sign_es256(&k1, &wrong_aud)),
        ("another project", sign_es256(&k1, &other_project)),
        (
            "signed by another key",
            sign_es256(&stranger, &claims(&p, sub)),
        ),
        ("alg none", alg_none),
        ("algorithm confusion", confused),
        ("garbage", "not.a.jwt".to_owned()),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(claims(&p, "someone-else").to_string().as_bytes()),
                parts[2]
            ),
        ),
    ];
    for (what, token) in cases {
        assert!(v.verify(&token).await.is_err(), "{what} must be rejected");
    }
}

#[tokio::test]
async fn follows_key_rotation() {
    let (k1, k2) = (new_key("k1"), new_key("k2"));
    let p = project(&[&k1]).await;
    let v = SupabaseVerifier::new(&p.url, None).with_min_refetch(Duration::from_millis(200));
    let sub = "6f1b2c3d-0000-4000-8000-000000000002";
    v.verify(&sign_es256(&k1, &claims(&p, sub)))
        .await
        .expect("k1 is published");

    // The project rotates: k2 replaces k1.
    *p.jwks.lock().unwrap() = json!({"keys": [k2.jwk.clone()]});
    tokio::time::sleep(Duration::from_millis(250)).await;
    v.verify(&sign_es256(&k2, &claims(&p, sub)))
        .await
        .expect("an unknown kid triggers a refetch");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        v.verify(&sign_es256(&k1, &claims(&p, sub))).await.is_err(),
        "the retired key no longer verifies"
    );
}

#[tokio::test]
async fn legacy_hs256_only_with_the_secret() {
    let p = project(&[]).await;
    let secret = "super-secret-jwt-token-with-at-least-32-characters";
    let sub = "6f1b2c3d-0000-4000-8000-000000000003";
    let token = sign_hs256(secret.as_bytes(), &claims(&p, sub));
    let with = SupabaseVerifier::new(&p.url, Some(&Secret::new(secret)));
    assert_eq!(with.verify(&token).await.unwrap().sub, sub);
    let without = SupabaseVerifier::new(&p.url, None);
    assert!(
        without.verify(&token).await.is_err(),
        "HS256 is off unless a secret is configured"
    );
    assert!(
        with.verify(&sign_hs256(
            b"wrong-secret-wrong-secret-wrong-secret",
            &claims(&p, sub)
        ))
        .await
        .is_err()
    );
}

/// The auth service of a fresh store, with Supabase tokens of `project` enabled.
async fn supabase_auth(project: &Project) -> (AuthService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let settings = AuthSettings {
        supabase_url: Some(project.url.clone()),
        ..AuthSettings::default()
    };
    (AuthService::new(store, settings), dir)
}

#[tokio::test]
async fn a_supabase_user_is_created_on_first_sight_as_a_viewer() {
    let k1 = new_key("k1");
    let p = project(&[&k1]).await;
    let (auth, _dir) = supabase_auth(&p).await;
    let sub = "6f1b2c3d-0000-4000-8000-000000000004";
    let token = sign_es256(&k1, &claims(&p, sub));
    let first = auth.authenticate(&token).await.unwrap();
    assert_eq!(first.user.id.as_str(), sub);
    assert_eq!(first.user.email, "ann@example.com");
    assert_eq!(first.user.role, OrgRole::Viewer);
    assert_eq!(first.credential, Credential::Supabase);
    let again = auth.authenticate(&token).await.unwrap();
    assert_eq!(again.user, first.user, "the same record the second time");
    assert_eq!(auth.list_users().await.unwrap().len(), 1);
    let created = auth.activity(&first.user.id, 10).await.unwrap();
    assert_eq!(created[0].action, "user_created");
}

/// A JWKS endpoint that serves `keys` the first time and then fails slowly, counting hits.
async fn failing_project(keys: &[&Key], hang: Duration) -> (Project, Arc<Mutex<u32>>) {
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    let hits = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/auth/v1/.well-known/jwks.json",
        axum::routing::get(move || {
            let (counter, doc) = (Arc::clone(&counter), doc.clone());
            async move {
                let n = {
                    let mut hits = counter.lock().unwrap();
                    *hits += 1;
                    *hits
                };
                if n == 1 {
                    return Ok(Json(doc));
                }
                tokio::time::sleep(hang).await;
                Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let project = Project {
        url,
        jwks: Arc::new(Mutex::new(Value::Null)),
    };
    (project, hits)
}

fn junk_token(p: &Project, kid: &str) -> String {
    let stranger = new_key(kid);
    sign_es256(
        &stranger,
        &claims(p, "6f1b2c3d-0000-4000-8000-0000000000ff"),
    )
}

/// Finding 6: while the JWKS endpoint fails, junk key ids cause at most one fetch per
/// interval, and never hold up a token whose key is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_key_ids_neither_hammer_the_jwks_nor_delay_real_users() {
    let k1 = new_key("k1");
    let (p, hits) = failing_project(&[&k1], Duration::from_secs(2)).await;
    let sub = "6f1b2c3d-0000-4000-8000-000000000010";
    let real = sign_es256(&k1, &claims(&p, sub));

    // Rate limit and negative caching: within the interval, unknown ids fetch nothing.
    let v = Arc::new(SupabaseVerifier::new(&p.url, None));
    v.verify(&real).await.expect("k1 is published");
    for i in 0..50 {
        assert!(
            v.verify(&junk_token(&p, &format!("junk{i}")))
                .await
                .is_err()
        );
    }
    assert_eq!(*hits.lock().unwrap(), 1, "no fetch for junk key ids");

    // Past the interval: five junk tokens at once start one fetch, which hangs; a real user
    // is verified from the cache meanwhile.
    let v = Arc::new(SupabaseVerifier::new(&p.url, None).with_min_refetch(Duration::from_secs(1)));
    *hits.lock().unwrap() = 0;
    v.verify(&real).await.expect("first fetch");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let junk: Vec<_> = (0..5)
        .map(|i| {
            let (v, token) = (Arc::clone(&v), junk_token(&p, &format!("wave{i}")));
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*hits.lock().unwrap(), 2, "one fetch for the wave");
    let verified = tokio::time::timeout(Duration::from_millis(1500), v.verify(&real))
        .await
        .expect("a cached key is not held up by the hanging fetch");
    assert_eq!(verified.unwrap().sub, sub);
    // The one that fetches is still waiting for Supabase; the others were refused at once
    // (the attempt is too recent) or wait for that one fetch.
    let pending = junk.iter().filter(|j| !j.is_finished()).count();
    assert!(
        pending >= 1,
        "the fetch was still in flight when the real user got in"
    );
    for j in junk {
        assert!(j.await.unwrap().is_err());
    }
    assert_eq!(
        *hits.lock().unwrap(),
        2,
        "those who waited for the fetch did not fetch again"
    );
}

/// Finding 9: a Supabase user whose e-mail belongs to a local account gets a clear error, and
/// an administrator's link lets them in as that account.
#[tokio::test]
async fn a_supabase_user_with_a_local_accounts_email_is_told_and_can_be_linked() {
    let k1 = new_key("k1");
    let p = project(&[&k1]).await;
    let (auth, _dir) = supabase_auth(&p).await;
    let (local, _) = auth
        .create_user(
            "ann@example.com",
            OrgRole::Technician,
            None,
            Some("a long enough password"),
            None,
        )
        .await
        .unwrap();
    let sub = "6f1b2c3d-0000-4000-8000-000000000020";
    let token = sign_es256(&k1, &claims(&p, sub));
    match auth.authenticate(&token).await {
        Err(moose_auth::AuthError::Forbidden(why)) => {
            assert!(why.contains("link-supabase"), "{why}");
        }
        other => panic!("expected a clear refusal, got {other:?}"),
    }
    let linked = auth.link_supabase("ann@example.com", sub).await.unwrap();
    assert_eq!(linked.id, local.id);
    let principal = auth.authenticate(&token).await.unwrap();
    assert_eq!(principal.user.id, local.id, "signs in as the local account");
    assert_eq!(principal.user.role, OrgRole::Technician);
    assert!(
        auth.link_supabase("ann@example.com", sub).await.is_err(),
        "a link is made once"
    );
}
