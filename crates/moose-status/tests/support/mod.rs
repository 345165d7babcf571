//! What the engine's scored tests share: a Solar.web client for a simulator on loopback, and
//! the check that a report matches its committed section of `docs/incidents.md`.

use std::sync::Arc;
use std::time::Duration;

use moose_domain::Secret;
use moose_sim::Simulator;
use moose_solarweb::{ClientConfig, Credentials, RetryPolicy, SolarWebClient};

/// Serves `sim` on loopback and returns a fast client for it.
pub async fn serve(sim: Arc<Simulator>) -> SolarWebClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, moose_sim::router(sim)).await.unwrap();
    });
    let creds = Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: None,
    };
    let mut cc = ClientConfig::new(url, creds);
    cc.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    cc.requests_per_second = 100_000.0;
    SolarWebClient::new(cc).unwrap()
}

/// Compares `report` with the section of `docs/incidents.md` between
/// `<!-- {name}:begin -->` and `<!-- {name}:end -->`; with `MOOSE_UPDATE_DOCS=1` it rewrites
/// the section instead.
pub fn check_docs(name: &str, report: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/incidents.md");
    let docs = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- {name}:begin -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let (b, e) = docs
        .find(&begin)
        .and_then(|b| docs[b..].find(&end).map(|e| (b + begin.len(), b + e)))
        .unwrap_or_else(|| panic!("docs/incidents.md has the {name} markers"));
    if std::env::var_os("MOOSE_UPDATE_DOCS").is_some() {
        let updated = format!("{}{report}{}", &docs[..b], &docs[e..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &docs[b..e],
        report,
        "docs/incidents.md's {name} section drifted; rerun with MOOSE_UPDATE_DOCS=1"
    );
}

/// A fresh SQLite store in a temporary directory and the engine's job over it and `client`.
pub struct World {
    /// Systems, devices and data.
    pub solar: moose_solardata::SolarRepo,
    /// Statuses and incidents.
    pub incidents: moose_incidents::IncidentRepo,
    /// The `device-status-polling` job.
    pub job: moose_status::StatusJob,
    /// Keeps the store's directory for the world's lifetime.
    pub _dir: tempfile::TempDir,
}

/// Builds a [`World`] with the default rules and no notifications.
pub async fn world(client: &SolarWebClient) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let solar = moose_solardata::SolarRepo::new(Arc::clone(&store));
    let incidents = moose_incidents::IncidentRepo::new(Arc::clone(&store));
    let job = moose_status::StatusJob {
        client: client.clone(),
        solar: solar.clone(),
        incidents: incidents.clone(),
        rules: moose_status::Rules::default(),
        planner: Arc::new(moose_incidents::NoNotifications),
        concurrency: 8,
    };
    World {
        solar,
        incidents,
        job,
        _dir: dir,
    }
}
