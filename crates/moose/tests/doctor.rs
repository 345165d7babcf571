//! `moose doctor` against the real local servers the suite runs — moto (DynamoDB and SNS),
//! aiosmtpd, the Solar.web simulator, the fake OpenAI-compatible server and the fake Pinecone, and
//! a JWKS endpoint for Supabase — all passing; then each one stopped (pointed at a port nobody
//! listens on) failing with its remedy and a non-zero exit. Needs `./scripts/test`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

mod support;

use moose_fakes::openai::FakeOpenAi;
use moose_fakes::pinecone::{FakePinecone, Kind};
use serde_json::{Value, json};
use support::{Smtp, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_moose");

async fn doctor(dir: &Path, env: Vec<(String, String)>, args: &[&str]) -> (i32, Value) {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .env_clear()
            .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
            .env("NO_COLOR", "1")
            .envs(env)
            .arg("doctor")
            .arg("--json")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let v = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "not JSON: {stdout} / {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), v)
    })
    .await
    .unwrap()
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_against_the_local_servers_and_names_each_one_that_is_down() {
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test");
    let dir = tempfile::tempdir().unwrap();
    // DynamoDB table and SNS topic on moto.
    let table = format!(
        "moose-doctor-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    );
    let settings = moose_store_dynamodb::DynamoSettings {
        table: table.clone(),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
    };
    moose_store_dynamodb::DynamoStore::connect(&settings)
        .await
        .create_table()
        .await
        .unwrap();
    let (_, sns) = moose_notify::testing::setup().await;
    let topic = sns
        .create_topic()
        .name(moose_notify::testing::unique("doctor"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    // Solar.web simulator, model, Pinecone, Supabase JWKS, SMTP.
    let sim = Arc::new(
        moose_sim::Simulator::new(moose_sim::SimConfig {
            systems: 2,
            seed: 3,
            ..moose_sim::SimConfig::default()
        })
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, moose_sim::router(sim)).await.unwrap() });
    let ai = FakeOpenAi::start(Some("sk-doctor"), 64).await;
    let pc = FakePinecone::start("pc-doctor", "moose-om", Kind::Vectors(64)).await;
    let jwks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let supabase_url = format!("http://{}", jwks.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/auth/v1/.well-known/jwks.json",
        axum::routing::get(|| async {
            axum::Json(
                json!({"keys": [{"kty": "EC", "kid": "k1", "crv": "P-256", "x": "AA", "y": "AA"}]}),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(jwks, app).await.unwrap() });
    let (smtp, smtp_port) = Smtp::start(dir.path());

    let dead = format!("http://127.0.0.1:{}", free_port());
    let env = |overrides: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = [
            ("AWS_ACCESS_KEY_ID", "moose-test"),
            ("AWS_SECRET_ACCESS_KEY", "moose-test"),
            ("AWS_REGION", "us-east-1"),
            ("MOOSE_STORE", "dynamodb"),
            ("DYNAMODB_TABLE_NAME", table.as_str()),
            ("MOOSE_DYNAMODB_ENDPOINT", endpoint.as_str()),
            ("MOOSE_SOLARWEB_BASE_URL", sim_url.as_str()),
            ("SOLAR_WEB_ACCESS_KEY_ID", moose_sim::DEFAULT_ACCESS_KEY_ID),
            (
                "SOLAR_WEB_ACCESS_KEY_VALUE",
                moose_sim::DEFAULT_ACCESS_KEY_VALUE,
            ),
            ("OPENAI_API_KEY", "sk-doctor"),
            ("MOOSE_OPENAI_BASE_URL", ai.base_url()),
            ("MOOSE_EMBEDDING_MODEL", "text-embedding-3-small"),
            ("PINECONE_API_KEY", "pc-doctor"),
            ("PINECONE_INDEX_NAME", "moose-om"),
            ("MOOSE_PINECONE_CONTROLLER_URL", pc.url()),
            ("SUPABASE_URL", supabase_url.as_str()),
            ("MOOSE_SNS_TOPIC_ARN", topic.as_str()),
            ("MOOSE_AWS_ENDPOINT", endpoint.as_str()),
            ("MOOSE_SMTP_HOST", "127.0.0.1"),
            ("MOOSE_SMTP_TLS", "none"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        v.push(("MOOSE_SMTP_PORT".into(), smtp_port.to_string()));
        for (k, val) in overrides {
            v.retain(|(a, _)| a != k);
            v.push(((*k).to_owned(), (*val).to_owned()));
        }
        v
    };
    let (code, report) = doctor(dir.path(), env(&[]), &[]).await;
    assert_eq!(code, 0, "{report:#}");
    for name in [
        "store", "solarweb", "supabase", "model", "pinecone", "sns", "smtp",
    ] {
        assert_eq!(check(&report, name)["status"], "pass", "{name}: {report:#}");
    }
    assert!(
        check(&report, "store")["detail"]
            .as_str()
            .unwrap()
            .contains("point-in-time recovery OFF"),
        "{report:#}"
    );
    assert!(
        !report.to_string().contains("sk-doctor") && !report.to_string().contains("pc-doctor"),
        "no secret is printed"
    );
    // A function checks only what it needs.
    let (code, report) = doctor(
        dir.path(),
        env(&[]),
        &["--function", "prod-solar-data-polling"],
    )
    .await;
    assert_eq!(code, 0);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["store", "solarweb"]);

    // Each server down: its check fails with a remedy, the others still pass, exit non-zero.
    let smtp_dead = free_port().to_string();
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("store", vec![("MOOSE_DYNAMODB_ENDPOINT", dead.as_str())]),
        ("solarweb", vec![("MOOSE_SOLARWEB_BASE_URL", dead.as_str())]),
        (
            "solarweb",
            vec![("SOLAR_WEB_ACCESS_KEY_VALUE", "wrong-key")],
        ),
        ("model", vec![("MOOSE_OPENAI_BASE_URL", dead.as_str())]),
        ("model", vec![("MOOSE_ASSISTANT_MODEL", "no-such-model")]),
        (
            "pinecone",
            vec![("MOOSE_PINECONE_CONTROLLER_URL", dead.as_str())],
        ),
        ("supabase", vec![("SUPABASE_URL", dead.as_str())]),
        (
            "sns",
            vec![(
                "MOOSE_SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:no-such-topic",
            )],
        ),
        ("smtp", vec![("MOOSE_SMTP_PORT", smtp_dead.as_str())]),
    ];
    for (name, overrides) in cases {
        let (code, report) = doctor(dir.path(), env(&overrides), &[]).await;
        assert_ne!(code, 0, "{name} {overrides:?}: {report:#}");
        let c = check(&report, name);
        assert_eq!(c["status"], "fail", "{name} {overrides:?}: {report:#}");
        assert!(
            c["remedy"].as_str().is_some_and(|r| !r.is_empty()),
            "{name}: a remedy: {c}"
        );
        let other_failures: Vec<&str> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                x["status"] == "fail"
                    && x["name"] != name
                    && !(name == "model" && x["name"] == "pinecone")
            })
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert!(
            other_failures.is_empty(),
            "{name} {overrides:?}: only it fails: {other_failures:?}"
        );
    }
    // A bad setting is reported, not a panic.
    let (code, report) = doctor(dir.path(), env(&[("MOOSE_SMTP_TLS", "sometimes")]), &[]).await;
    assert_ne!(code, 0);
    assert_eq!(report["settings"]["valid"], false, "{report:#}");
    assert!(report.to_string().contains("smtp_tls"), "{report:#}");
    drop(smtp);
}
