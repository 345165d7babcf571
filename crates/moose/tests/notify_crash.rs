//! Killing `notify-user` mid-delivery: `moose notify run` is killed with SIGKILL while webhook
//! deliveries are in flight, started again, and the receiver — which, like any receiver of
//! Moose webhooks, drops repeats of an idempotency key it has already accepted — gets every
//! notification exactly once. The raw resends are bounded by what was in flight at the kill.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use moose_auth::{AuthService, AuthSettings};
use moose_domain::{Secret, SystemId};
use moose_incidents::{Change, ChangeEvent, IncidentRepo, NotificationPlanner};
use moose_notify::model::DeliveryState;
use moose_notify::{NotifyRepo, OutboxPlanner, testing};
use moose_store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_moose");
const SECRET: &str = "fedcba9876543210fedcba9876543210";
const INCIDENTS: usize = 12;

/// Raw deliveries, in arrival order, with whether the signature verified.
type Log = Arc<Mutex<Vec<(String, bool)>>>;

async fn hook(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let valid = moose_notify::channels::webhook::verify_signature(
        &Secret::new(SECRET),
        &h("x-moose-signature"),
        &body,
        Timestamp::now().as_second(),
        300,
    );
    log.lock()
        .unwrap()
        .push((h("x-moose-idempotency-key"), valid));
    // Slow enough that the kill lands while a delivery is in flight.
    tokio::time::sleep(Duration::from_millis(400)).await;
    StatusCode::NO_CONTENT
}

async fn seed(dir: &std::path::Path, hook_url: &str) -> Vec<String> {
    let store: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(&dir.join("data"))
            .await
            .unwrap(),
    );
    let auth = AuthService::new(Arc::clone(&store), AuthSettings::default());
    let system = SystemId::parse("sys-crash").unwrap();
    let members = [("owner@moose.test", moose_auth::SystemRole::Owner)];
    let owner = testing::system_with_members(&store, &auth, &system, "Crash Farm", &members)
        .await
        .remove(0);
    let notify = NotifyRepo::new(Arc::clone(&store));
    testing::with_webhook(&auth, &notify, &owner, hook_url, SECRET, false).await;
    let planner = OutboxPlanner {
        auth,
        repo: notify,
        public_url: None,
        ops_topic: false,
    };
    let incidents = IncidentRepo::new(Arc::clone(&store));
    let start = moose_store::to_millis(Timestamp::now());
    let mut expected = Vec::new();
    for i in 0..INCIDENTS {
        let at = start + jiff::SignedDuration::from_millis(i as i64);
        let incident = testing::incident(&system, "Crash Farm", at, &format!("Fault {i}"));
        let change = Change {
            event: ChangeEvent::Opened,
            incident: incident.clone(),
            held: false,
            version: 0,
        };
        let mut ops = vec![IncidentRepo::incident_op(&incident, 0).unwrap()];
        ops.extend(planner.plan(&change).await.unwrap());
        incidents.commit(ops).await.unwrap();
        expected.push(format!("{}.open.{}", incident.id, owner));
    }
    store.close().await.unwrap();
    expected
}

fn dispatcher(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["notify", "run", "--once", "--data-dir", "data"])
        .env_clear()
        .env("NO_COLOR", "1")
        .env("MOOSE_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env("MOOSE_NOTIFY_LEASE_SECS", "5")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_dispatcher_mid_delivery_sends_each_notification_once() {
    let dir = tempfile::tempdir().unwrap();
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let expected = seed(dir.path(), &url).await;

    let mut victim = dispatcher(dir.path()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.lock().unwrap().len() < 4 {
        assert!(Instant::now() < deadline, "the dispatcher never delivered");
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the dispatcher finished before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Mid-delivery: the receiver is still holding the latest request.
    victim.kill().unwrap();
    victim.wait().unwrap();
    let at_kill = log.lock().unwrap().len();
    assert!(at_kill < INCIDENTS, "killed mid-run ({at_kill} delivered)");

    // The killed dispatcher's claim expires after its lease; then a new one takes over.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let status = dispatcher(dir.path()).status().unwrap();
    assert!(status.success(), "the second dispatcher finished: {status}");

    let raw = log.lock().unwrap().clone();
    assert!(
        raw.iter().all(|(_, valid)| *valid),
        "every delivery is signed"
    );
    let mut by_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in &raw {
        *by_key.entry(key.as_str()).or_default() += 1;
    }
    let accepted: Vec<&str> = by_key.keys().copied().collect();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(
        accepted, want,
        "every notification reached the receiver, and nothing else did"
    );
    let resent = raw.len() - by_key.len();
    assert!(
        resent <= 1,
        "only the delivery in flight at the kill may be repeated (same key): {by_key:?}"
    );
    println!(
        "{} deliveries before the kill, {} in all, {resent} resent with the same idempotency key",
        at_kill,
        raw.len()
    );

    // And the store agrees: every notification is sent, none pending.
    let store: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(&dir.path().join("data"))
            .await
            .unwrap(),
    );
    let notify = NotifyRepo::new(store);
    for id in &expected {
        let (n, _) = notify.notification(id).await.unwrap().unwrap();
        assert_eq!(n.state, DeliveryState::Sent, "{id}");
    }
}
