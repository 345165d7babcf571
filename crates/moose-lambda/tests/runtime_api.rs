//! The built `bootstrap` against a fake of the Lambda Runtime API on loopback
//! (`/2018-06-01/runtime/invocation/next`, `/response`, `/error`), as AWS would run it.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
struct Runtime {
    queue: Mutex<VecDeque<Value>>,
    answers: Mutex<Vec<(String, String, Value)>>, // (request id, "response"|"error", body)
}

async fn next(State(rt): State<Arc<Runtime>>) -> (HeaderMap, String) {
    loop {
        let event = rt.queue.lock().unwrap().pop_front();
        if let Some(event) = event {
            let id = format!("req-{}", rt.answers.lock().unwrap().len());
            let mut headers = HeaderMap::new();
            headers.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).unwrap(),
            );
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            headers.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_str(&deadline.to_string()).unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:moose"),
            );
            return (headers, event.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn answer(
    State(rt): State<Arc<Runtime>>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    rt.answers.lock().unwrap().push((
        id,
        kind,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ));
    "{}"
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: String) -> &'static str {
    rt.answers.lock().unwrap().push((
        "init".into(),
        "init-error".into(),
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ));
    "{}"
}

struct Harness {
    runtime: Arc<Runtime>,
    addr: String,
}

impl Harness {
    async fn start() -> Self {
        let runtime = Arc::new(Runtime::default());
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&runtime));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { runtime, addr }
    }

    fn bootstrap(&self, function: &str, env: &[(&str, &str)]) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_ACCESS_KEY_ID", "moose-test")
            .env("AWS_SECRET_ACCESS_KEY", "moose-test")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    async fn invoke(&self, event: Value) -> (String, Value) {
        let before = self.runtime.answers.lock().unwrap().len();
        self.runtime.queue.lock().unwrap().push_back(event);
        let started = Instant::now();
        loop {
            let answers = self.runtime.answers.lock().unwrap().clone();
            // A function that failed at start answers every invocation with its init error.
            if let Some((_, kind, body)) = answers.iter().find(|a| a.1 == "init-error").cloned() {
                return (kind, body);
            }
            if let Some((_, kind, body)) = answers.get(before).cloned() {
                return (kind, body);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no answer from bootstrap"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Stops a bootstrap process and reaps it.
fn stop(mut child: Child) {
    child.kill().ok();
    child.wait().ok();
}

fn rest_event(method: &str, path: &str, token: Option<&str>) -> Value {
    let headers = token.map_or_else(
        || json!({}),
        |t| json!({"Authorization": format!("Bearer {t}")}),
    );
    json!({
        "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers, "multiValueHeaders": {},
        "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null, "stageVariables": null,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": path, "stage": "prod", "requestId": "r1", "identity": {"sourceIp": "203.0.113.9"}},
        "body": null, "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_health_payload_answers_healthy_for_each_http_function() {
    let dir = tempfile::tempdir().unwrap();
    for function in ["chat-service", "solar-data-service", "user-management"] {
        let harness = Harness::start().await;
        let data = dir.path().join(function);
        let child = harness.bootstrap(
            function,
            &[
                ("MOOSE_STORE", "sqlite"),
                ("MOOSE_DATA_DIR", data.to_str().unwrap()),
            ],
        );
        let (kind, body) = harness
            .invoke(json!({"httpMethod": "GET", "path": "/health"}))
            .await;
        assert_eq!(kind, "response", "{function}: {body}");
        assert_eq!(body["statusCode"], 200, "{function}: {body}");
        let inner: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
        assert_eq!(inner["status"], "healthy", "{function}");
        stop(child);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_events_go_through_the_same_router_and_access_rules() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An API key made the way an administrator would, in the store the function will use.
    let key = admin_key(&data).await;
    let harness = Harness::start().await;
    let child = harness.bootstrap(
        "prod-solar-data-service",
        &[
            ("MOOSE_STORE", "sqlite"),
            ("MOOSE_DATA_DIR", data.to_str().unwrap()),
        ],
    );
    let (_, unauthenticated) = harness
        .invoke(rest_event("GET", "/api/systems", None))
        .await;
    assert_eq!(unauthenticated["statusCode"], 401, "{unauthenticated}");
    let (_, listed) = harness
        .invoke(rest_event("GET", "/api/systems", Some(&key)))
        .await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let body: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["systems"], json!([]));
    let (_, users) = harness
        .invoke(rest_event("GET", "/api/users/me", Some(&key)))
        .await;
    assert_eq!(users["statusCode"], 200, "{users}");
    let (kind, bad) = harness.invoke(json!({"not": "an http event"})).await;
    assert_eq!(
        kind, "error",
        "a payload that is not HTTP is reported to the runtime as an error: {bad}"
    );
    stop(child);
}

/// After each invocation the function prints its metrics as CloudWatch Embedded Metric Format
/// lines on stdout, which CloudWatch Logs turns into metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_prints_its_metrics_as_emf_lines() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &harness.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "prod-solar-data-service")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("MOOSE_STORE", "sqlite")
        .env("MOOSE_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    harness
        .invoke(rest_event("GET", "/api/systems", None))
        .await;
    harness
        .invoke(rest_event("GET", "/api/systems/abc", None))
        .await;
    let mut docs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while docs.len() < 2 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Ok(v) = serde_json::from_str::<Value>(&line)
            && v.get("_aws").is_some()
        {
            docs.push(v);
        }
    }
    stop(child);
    assert_eq!(docs.len(), 2, "one EMF document per invocation: {docs:?}");
    for (doc, route) in docs.iter().zip(["/api/systems", "/api/systems/{system}"]) {
        assert_eq!(doc["Function"], "solar-data-service");
        assert_eq!(
            doc["Route"], route,
            "the route template, not the path: {doc}"
        );
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Moose");
        assert!(doc["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
        for m in directive["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc.get(name).is_some(), "{name} is a root member: {doc}");
        }
        // Unauthenticated: a 401 counted, and its latency in milliseconds.
        assert_eq!(doc["HttpRequestsTotalGet401"], 1, "{doc}");
        assert!(
            doc["HttpRequestDurationMilliseconds"]
                .as_array()
                .is_some_and(|v| v.len() == 1),
            "{doc}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_function_name_is_an_init_error() {
    let harness = Harness::start().await;
    let child = harness.bootstrap("some-other-function", &[]);
    let started = Instant::now();
    loop {
        if let Some((_, kind, body)) = harness.runtime.answers.lock().unwrap().first().cloned() {
            assert_eq!(kind, "init-error");
            assert!(body.to_string().contains("MOOSE_FUNCTION"), "{body}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no init error reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(child);
}

mod moose_store_sqlite_for_tests {
    pub async fn open(dir: &std::path::Path) -> moose_store_sqlite::SqliteStore {
        moose_store_sqlite::SqliteStore::open(dir).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_event_makes_solar_data_polling_pull_from_the_simulator_into_dynamodb() {
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test, which starts moto_server");
    // The simulated fleet, in real time.
    let sim = Arc::new(
        moose_sim::Simulator::new(moose_sim::SimConfig {
            systems: 3,
            seed: 9,
            ..moose_sim::SimConfig::default()
        })
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // The table, as `moose table create` makes it.
    let settings = moose_store_dynamodb::DynamoSettings {
        table: "moose-lambda-test".into(),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
    };
    let table = moose_store_dynamodb::DynamoStore::connect(&settings).await;
    table.create_table().await.unwrap();

    let harness = Harness::start().await;
    let child = harness.bootstrap(
        "solar-data-polling",
        &[
            ("DYNAMODB_TABLE_NAME", "moose-lambda-test"),
            ("MOOSE_DYNAMODB_ENDPOINT", &endpoint),
            ("MOOSE_SOLARWEB_BASE_URL", &sim_url),
            ("SOLAR_WEB_ACCESS_KEY_ID", moose_sim::DEFAULT_ACCESS_KEY_ID),
            (
                "SOLAR_WEB_ACCESS_KEY_VALUE",
                moose_sim::DEFAULT_ACCESS_KEY_VALUE,
            ),
            // Not the default (24 h): the function must honour it, as `moose serve` does.
            ("MOOSE_POLL_INITIAL_LOOKBACK_HOURS", "48"),
        ],
    );
    let scheduled = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
                           "time": "2026-11-23T12:00:00Z", "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/poll"], "detail": {}});
    let (kind, summary) = harness.invoke(scheduled).await;
    assert_eq!(kind, "response", "{summary}");
    assert_eq!(summary["systems"], 3, "{summary}");
    assert!(
        summary["records_written"].as_u64().unwrap() > 3 * 200,
        "{summary}"
    );
    // The data is in DynamoDB.
    let repo = moose_solardata::SolarRepo::new(Arc::new(table));
    let systems = repo.all_systems().await.unwrap();
    assert_eq!(systems.len(), 3);
    assert!(
        repo.cursor(&systems[0].id)
            .await
            .unwrap()
            .is_some_and(|c| c.last_data_at.is_some())
    );
    // 48 hours back, not the default 24: the earliest stored record lies in the day before the
    // last 24 hours (a day always has daylight, and the simulator sends no night records), and
    // not before the 48 hours.
    let now = jiff::Timestamp::now();
    for system in &systems {
        let today = now.to_zoned_datetime(system.tz()).date();
        let days = repo
            .days(
                &system.id,
                today.checked_sub(jiff::Span::new().days(10)).unwrap(),
                today,
            )
            .await
            .unwrap();
        let first = days.first().expect("stored days");
        let slot = *first.slots.keys().next().expect("a record");
        let earliest = first.start + jiff::SignedDuration::from_mins(5 * i64::from(slot));
        assert!(
            earliest < now - jiff::SignedDuration::from_hours(24)
                && earliest
                    >= now
                        - jiff::SignedDuration::from_hours(48)
                        - jiff::SignedDuration::from_mins(10),
            "MOOSE_POLL_INITIAL_LOOKBACK_HOURS=48 decides how far back the first poll reaches: earliest record {earliest}, now {now}"
        );
    }
    stop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_status_polling_opens_a_platform_incident_and_an_sns_event_makes_notify_user_deliver_it()
 {
    use moose_notify::testing::{receive, setup, topic_with_queue, unique, xml_values};
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test, which starts moto_server");
    // Solar.web is down for the whole test: every system is unreachable at once.
    let sim = Arc::new(
        moose_sim::Simulator::new(moose_sim::SimConfig {
            systems: 4,
            seed: 11,
            scenario: moose_sim::ScenarioSource::Toml(
                "[[fault]]\nkind = \"api_outage\"\nfrom = \"+0h\"\nto = \"+3h\"\n".into(),
            ),
            ..moose_sim::SimConfig::default()
        })
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let table_name = unique("moose-alerts");
    let settings = moose_store_dynamodb::DynamoSettings {
        table: table_name.clone(),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
    };
    let table = moose_store_dynamodb::DynamoStore::connect(&settings).await;
    table.create_table().await.unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(table);
    // The fleet as an earlier solar-data-polling run left it.
    let repo = moose_solardata::SolarRepo::new(Arc::clone(&store));
    for s in &sim.fleet.systems {
        repo.put_meta(&moose_solardata::SystemMeta {
            id: moose_domain::SystemId::parse(&s.id).unwrap(),
            name: s.name.clone(),
            peak_power_w: Some(s.peak_power_w()),
            time_zone: s.tz_name.into(),
            latitude: Some(s.site.latitude_deg),
            longitude: Some(s.site.longitude_deg),
            city: None,
            country: None,
            installation_date: None,
            active: true,
            inferred_position: None,
        })
        .await
        .unwrap();
    }
    let (_, sns) = setup().await;
    let (topic_arn, queue_url) = topic_with_queue(&sns, false).await;
    let env = [
        ("DYNAMODB_TABLE_NAME", table_name.as_str()),
        ("MOOSE_DYNAMODB_ENDPOINT", endpoint.as_str()),
        ("MOOSE_SOLARWEB_BASE_URL", sim_url.as_str()),
        ("SOLAR_WEB_ACCESS_KEY_ID", moose_sim::DEFAULT_ACCESS_KEY_ID),
        (
            "SOLAR_WEB_ACCESS_KEY_VALUE",
            moose_sim::DEFAULT_ACCESS_KEY_VALUE,
        ),
        ("MOOSE_SNS_TOPIC_ARN", topic_arn.as_str()),
        ("MOOSE_AWS_ENDPOINT", endpoint.as_str()),
    ];

    let harness = Harness::start().await;
    let status = harness.bootstrap("device-status-polling", &env);
    let scheduled = json!({"version": "0", "id": "e2", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
                           "time": "2026-11-23T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let (kind, first) = harness.invoke(scheduled.clone()).await;
    assert_eq!(kind, "response", "{first}");
    assert_eq!(first["unreachable"], 4, "{first}");
    assert_eq!(
        first["upstream_hold"], true,
        "held from the first failing pass: {first}"
    );
    let (_, second) = harness.invoke(scheduled).await;
    assert_eq!(second["opened"]["upstream_outage"], 1, "{second}");
    assert!(
        second["opened"].get("no_data").is_none(),
        "no per-system incidents: {second}"
    );
    stop(status);
    // The fleet timeline on DynamoDB's index, listed without bounds as the API's default does.
    let listed = moose_incidents::IncidentRepo::new(Arc::clone(&store))
        .list(
            &moose_incidents::IncidentFilter::default(),
            &|_| true,
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0].kind,
        moose_incidents::IncidentKind::UpstreamOutage
    );

    let notify = harness.bootstrap("notify-user", &env);
    let sns_event = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": format!("{topic_arn}:sub"),
                            "Sns": {"Type": "Notification", "MessageId": "m1", "TopicArn": topic_arn, "Subject": "wake", "Message": "{}", "Timestamp": "2026-11-23T12:00:00.000Z"}}]});
    let (kind, round) = harness.invoke(sns_event).await;
    assert_eq!(kind, "response", "{round}");
    assert_eq!(
        round["sent"], 1,
        "the platform incident, once, to the operations topic: {round}"
    );
    let xml = receive(&queue_url).await;
    let bodies = xml_values(&xml, "Body");
    assert_eq!(bodies.len(), 1, "{xml}");
    assert!(
        bodies[0].contains("systems are not reporting at the same time"),
        "{}",
        bodies[0]
    );
    // A second wake-up finds nothing due: nothing is sent twice.
    let (_, again) = harness.invoke(json!({})).await;
    assert_eq!(again["sent"], 0, "{again}");
    stop(notify);
}

/// `chat-service` on DynamoDB with the language model and Pinecone (both fakes on loopback):
/// the model calls the knowledge tool, retrieval asks Pinecone, the answer comes back through
/// API Gateway with its citations, and the conversation is in the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_service_answers_with_the_model_and_pinecone_on_dynamodb() {
    use moose_fakes::openai::{FakeOpenAi, Reply, Style};
    use moose_fakes::pinecone::{FakePinecone, Kind};
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test, which starts moto_server");
    let table_name = moose_notify::testing::unique("moose-chat");
    let settings = moose_store_dynamodb::DynamoSettings {
        table: table_name.clone(),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
    };
    let table = moose_store_dynamodb::DynamoStore::connect(&settings).await;
    table.create_table().await.unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(table);
    let auth =
        moose_auth::AuthService::new(Arc::clone(&store), moose_auth::AuthSettings::default());
    let (admin, _) = auth
        .create_user(
            "ops@example.com",
            moose_auth::OrgRole::Admin,
            None,
            Some("a long enough password"),
            None,
        )
        .await
        .unwrap();
    let principal = moose_auth::Principal {
        user: admin,
        credential: moose_auth::Credential::Supabase,
    };
    let (_, key) = auth
        .create_api_key(&principal, "chat test", moose_auth::OrgRole::Admin, false)
        .await
        .unwrap();

    // The model and the index; the knowledge base's vectors are in the index.
    let ai = FakeOpenAi::start(Some("sk-lambda"), 64).await;
    let pc = FakePinecone::start("pc-lambda", "moose-om", Kind::Vectors(64)).await;
    let mut llm = moose_assistant::llm::LlmSettings::new(
        ai.base_url(),
        Some(moose_domain::Secret::new("sk-lambda")),
        "gpt-4.1-mini",
    );
    llm.embedding_model = Some("text-embedding-3-small".into());
    let pinecone = moose_assistant::pinecone::PineconeClient::new(
        moose_assistant::pinecone::PineconeSettings {
            api_key: moose_domain::Secret::new("pc-lambda"),
            index_name: "moose-om".into(),
            control_url: pc.url().into(),
            index_host: None,
            namespace: String::new(),
            timeout: Duration::from_secs(5),
        },
    );
    moose_assistant::retrieval::Retriever::hybrid(
        moose_assistant::retrieval::KnowledgeSource::Builtin,
        moose_assistant::llm::LlmClient::new(llm),
        moose_assistant::retrieval::VectorIndex::Pinecone(pinecone),
    )
    .ingest(|_, _| {})
    .await
    .unwrap();
    ai.push([
        Reply::tool_calls(&[("search_knowledge", r#"{"query":"insulation fault state code 447"}"#)], Style::OpenAi),
        Reply::text("An insulation fault: the inverter found a leak to earth on the DC side. A qualified electrician must find it."),
    ]);

    let harness = Harness::start().await;
    let child = harness.bootstrap(
        "prod-chat-service",
        &[
            ("DYNAMODB_TABLE_NAME", &table_name),
            ("MOOSE_DYNAMODB_ENDPOINT", &endpoint),
            ("OPENAI_API_KEY", "sk-lambda"),
            ("MOOSE_OPENAI_BASE_URL", ai.base_url()),
            ("MOOSE_EMBEDDING_MODEL", "text-embedding-3-small"),
            ("PINECONE_API_KEY", "pc-lambda"),
            ("PINECONE_INDEX_NAME", "moose-om"),
            ("MOOSE_PINECONE_CONTROLLER_URL", pc.url()),
        ],
    );
    let mut event = rest_event("POST", "/api/chat", Some(&key));
    event["headers"]["Content-Type"] = json!("application/json");
    event["body"] = json!(json!({"username": "ops", "message": "inverter shows 447, can the owner fix it?", "user_id": null}).to_string());
    let (kind, reply) = harness.invoke(event).await;
    assert_eq!(kind, "response", "{reply}");
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["mode"], "model", "{body}");
    assert!(
        body["response"]
            .as_str()
            .unwrap()
            .starts_with("An insulation fault"),
        "{body}"
    );
    assert!(
        body["citations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "knowledge"
                && c["article"].as_str().unwrap().contains("insulation")),
        "{body}"
    );
    assert_eq!(
        body["usage"]["total_tokens"].as_u64().map(|t| t > 0),
        Some(true)
    );
    assert_eq!(ai.requests().len(), 2, "one tool round, then the answer");
    assert!(pc.queries() >= 1, "retrieval asked Pinecone");
    let (_, listed) = harness
        .invoke(rest_event("GET", "/api/chat/conversations", Some(&key)))
        .await;
    let listed: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        listed["conversations"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    stop(child);
}

/// A fake of Lambda's `Invoke` (restJson1, `POST /2015-03-31/functions/{name}/invocations`)
/// that hands each event to a real `bootstrap` through its Runtime API harness: moto cannot run
/// `provided.al2023` functions. The qualified name picks the bootstrap; a function error comes
/// back as AWS sends it (HTTP 200, `X-Amz-Function-Error: Unhandled`, the error document).
/// Function name → the bootstrap that answers for it.
type Versions = Vec<(&'static str, Arc<Harness>)>;

async fn fake_lambda(versions: Versions) -> String {
    async fn invoke(
        State(versions): State<Arc<Versions>>,
        Path(name): Path<String>,
        body: String,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let Some((_, harness)) = versions.iter().find(|(n, _)| name.contains(n)) else {
            return (
                axum::http::StatusCode::NOT_FOUND,
                [("x-amzn-errortype", "ResourceNotFoundException")],
                json!({"Type": "User", "message": format!("Function not found: {name}")})
                    .to_string(),
            )
                .into_response();
        };
        let (kind, answer) = harness
            .invoke(serde_json::from_str(&body).unwrap_or(Value::Null))
            .await;
        let version = name.rsplit(':').next().unwrap_or("$LATEST").to_owned();
        if kind == "response" {
            ([("x-amz-executed-version", version)], answer.to_string()).into_response()
        } else {
            (
                [
                    ("x-amz-executed-version", version),
                    ("x-amz-function-error", "Unhandled".to_owned()),
                ],
                answer.to_string(),
            )
                .into_response()
        }
    }
    let app = axum::Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::new(versions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// An administrator's API key in the SQLite store under `data`.
async fn admin_key(data: &std::path::Path) -> String {
    let store = Arc::new(moose_store_sqlite_for_tests::open(data).await);
    let auth = moose_auth::AuthService::new(store.clone(), moose_auth::AuthSettings::default());
    let (admin, _) = auth
        .create_user(
            "release@example.com",
            moose_auth::OrgRole::Admin,
            None,
            Some("a long enough password"),
            None,
        )
        .await
        .unwrap();
    let principal = moose_auth::Principal {
        user: admin,
        credential: moose_auth::Credential::Supabase,
    };
    let (_, key) = auth
        .create_api_key(
            &principal,
            "pretraffic hook",
            moose_auth::OrgRole::Admin,
            true,
        )
        .await
        .unwrap();
    moose_store::Store::close(&*store).await.unwrap();
    key
}

/// The PreTraffic hook role of the same `bootstrap`, invoked by CodeDeploy's lifecycle event:
/// it checks the new versions by invoking them (real bootstraps behind a fake `Invoke`) and
/// reports to CodeDeploy (a fake speaking its awsJson1.1 protocol, since moto does not
/// implement `PutLifecycleEventHookExecutionStatus`) — `Succeeded` for a healthy release,
/// `Failed` for one whose new version cannot start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pretraffic_hook_reports_a_healthy_release_succeeded_and_a_broken_one_failed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = admin_key(&data).await;
    let store_env = [
        ("MOOSE_STORE", "sqlite"),
        ("MOOSE_DATA_DIR", data.to_str().unwrap()),
    ];
    let api = Arc::new(Harness::start().await);
    let api_child = api.bootstrap("solar-data-service", &store_env);
    let notify = Arc::new(Harness::start().await);
    let notify_child = notify.bootstrap("notify-user", &store_env);
    // A release whose new configuration is invalid: the version fails at start.
    let broken = Arc::new(Harness::start().await);
    let broken_child = broken.bootstrap(
        "chat-service",
        &[
            ("MOOSE_STORE", "sqlite"),
            ("MOOSE_DATA_DIR", data.to_str().unwrap()),
            ("MOOSE_ASSISTANT_TIMEOUT_SECS", "soon"),
        ],
    );
    let lambda = fake_lambda(vec![
        ("solar-data-service", Arc::clone(&api)),
        ("notify-user", Arc::clone(&notify)),
        ("chat-service", Arc::clone(&broken)),
    ])
    .await;
    let codedeploy = moose_fakes::codedeploy::FakeCodeDeploy::start().await;
    let arn = |f: &str, v: u32| format!("arn:aws:lambda:us-east-1:123456789012:function:{f}:{v}");

    let run_hook = |targets: String, deployment: &'static str| {
        let (lambda, codedeploy, key) = (lambda.clone(), codedeploy.url().to_owned(), key.clone());
        async move {
            let hook = Harness::start().await;
            let child = hook.bootstrap(
                "CodeDeployHook_moose-pretraffic",
                &[
                    ("MOOSE_HOOK_TARGETS", targets.as_str()),
                    ("MOOSE_HOOK_API_KEY", key.as_str()),
                    ("AWS_ENDPOINT_URL_LAMBDA", lambda.as_str()),
                    ("AWS_ENDPOINT_URL_CODEDEPLOY", codedeploy.as_str()),
                ],
            );
            let answer = hook
                .invoke(json!({"DeploymentId": deployment, "LifecycleEventHookExecutionId": format!("exec-{deployment}")}))
                .await;
            stop(child);
            answer
        }
    };

    let healthy = format!("{},{}", arn("solar-data-service", 2), arn("notify-user", 2));
    let (kind, outcome) = run_hook(healthy, "d-HEALTHY01").await;
    assert_eq!(kind, "response", "{outcome}");
    assert_eq!(outcome["status"], "Succeeded", "{outcome:#}");
    let api_checks = outcome["targets"][0]["checks"].to_string();
    for check in ["health", "ready", "auth", "systems", "incidents", "chat"] {
        assert!(
            api_checks.contains(&format!("\"name\":\"{check}\"")),
            "the API function gets the {check} check: {api_checks}"
        );
    }
    let notify_checks: Vec<&str> = outcome["targets"][1]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        notify_checks,
        ["health", "ready"],
        "a background function answers its health without running a pass"
    );

    let with_broken = format!(
        "{},{}",
        arn("solar-data-service", 3),
        arn("chat-service", 3)
    );
    let (kind, outcome) = run_hook(with_broken, "d-BROKEN001").await;
    assert_eq!(kind, "response", "{outcome}");
    assert_eq!(outcome["status"], "Failed", "{outcome:#}");
    let failed = &outcome["targets"][1]["checks"][0];
    assert_eq!(failed["name"], "health");
    assert_eq!(failed["ok"], false);
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("the function failed (Unhandled)"),
        "{failed}"
    );

    let reports = codedeploy.hook_statuses();
    let seen: Vec<(&str, &str, &str)> = reports
        .iter()
        .map(|r| {
            (
                r.deployment_id.as_str(),
                r.execution_id.as_str(),
                r.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("d-HEALTHY01", "exec-d-HEALTHY01", "Succeeded"),
            ("d-BROKEN001", "exec-d-BROKEN001", "Failed")
        ]
    );
    for child in [api_child, notify_child, broken_child] {
        stop(child);
    }
}
