//! Helpers for tests against moto_server (SNS and SQS on one loopback port). Compiled only with
//! the `testing` feature, which only dev-dependencies enable.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::time::{Duration, Instant};

use aws_sdk_sns::Client;
use reqwest::Url;

use crate::{SnsSender, SnsSettings};

/// The moto endpoint the test command started.
pub fn endpoint() -> String {
    std::env::var("MOOSE_TEST_AWS_ENDPOINT")
        .or_else(|_| std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT"))
        .unwrap_or_else(|_| {
            panic!(
                "MOOSE_TEST_AWS_ENDPOINT is not set: run the tests through ./scripts/test, which \
                 starts moto_server and points it there"
            )
        })
}

/// A name no earlier run against the same moto used.
pub fn unique(prefix: &str) -> String {
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A sender and a raw SNS client, both on moto.
pub async fn setup() -> (SnsSender, Client) {
    let settings = SnsSettings {
        endpoint: Some(endpoint()),
        region: Some("us-east-1".to_owned()),
    };
    let sender = SnsSender::connect(&settings).await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    (sender, Client::new(&config))
}

/// One SQS query-protocol call; returns the XML response.
pub async fn sqs(params: &[(&str, &str)]) -> String {
    let mut form = Url::parse("http://form.invalid/").unwrap();
    form.query_pairs_mut()
        .extend_pairs(params)
        .append_pair("Version", "2012-11-05");
    let response = reqwest::Client::new()
        .post(endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        // moto routes a request by the service named in the credential scope; it does not
        // check the signature itself.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=moose-test/20260101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(form.query().unwrap_or_default().to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status.is_success(),
        "SQS {params:?} failed: {status} {text}"
    );
    text
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(value, _)| value))
        .map(|v| {
            v.replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// A topic with a fresh SQS queue subscribed (raw delivery); returns topic ARN and queue URL.
pub async fn topic_with_queue(client: &Client, fifo: bool) -> (String, String) {
    let suffix = if fifo { ".fifo" } else { "" };
    let mut create = client
        .create_topic()
        .name(format!("{}{suffix}", unique("moose-notify-topic")));
    if fifo {
        create = create.attributes("FifoTopic", "true");
    }
    let topic_arn = create.send().await.unwrap().topic_arn.unwrap();

    let queue_name = format!("{}{suffix}", unique("moose-notify-queue"));
    let mut params = vec![
        ("Action", "CreateQueue"),
        ("QueueName", queue_name.as_str()),
    ];
    if fifo {
        params.extend([
            ("Attribute.1.Name", "FifoQueue"),
            ("Attribute.1.Value", "true"),
        ]);
    }
    let created = sqs(&params).await;
    let queue_url = xml_values(&created, "QueueUrl").pop().expect("QueueUrl");
    let attrs = sqs(&[
        ("Action", "GetQueueAttributes"),
        ("QueueUrl", &queue_url),
        ("AttributeName.1", "QueueArn"),
    ])
    .await;
    let queue_arn = xml_values(&attrs, "Value").pop().expect("QueueArn");
    client
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url)
}

/// Receives messages until one arrives (or 10 s pass); returns the raw XML.
pub async fn receive(queue_url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let xml = sqs(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", queue_url),
            ("MaxNumberOfMessages", "10"),
            ("MessageAttributeName.1", "All"),
        ])
        .await;
        if xml.contains("<Message>") {
            return xml;
        }
        assert!(Instant::now() < deadline, "nothing arrived on {queue_url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A 10 kWp system in Vienna named `name`, with one member per `(email, role)` granted by a new
/// admin (`admin@moose.test`); returns the members' ids in order.
pub async fn system_with_members(
    store: &std::sync::Arc<dyn moose_store::Store>,
    auth: &moose_auth::AuthService,
    system: &moose_domain::SystemId,
    name: &str,
    members: &[(&str, moose_auth::SystemRole)],
) -> Vec<moose_domain::UserId> {
    // The system's META item as `moose-solardata` writes it (this crate does not depend on it).
    let meta = serde_json::json!({
        "id": system, "name": name, "peak_power_w": 10_000.0, "time_zone": "Europe/Vienna",
        "latitude": 48.2, "longitude": 16.4, "city": null, "country": null,
        "installation_date": null, "active": true,
    });
    let item = moose_store::Item::new(
        moose_store::Key::new(
            moose_domain::keys::system_pk(system),
            moose_domain::keys::SK_META,
        ),
        meta.as_object().cloned().unwrap_or_default(),
    )
    .with_gsi1(moose_domain::keys::GSI1_ALL_SYSTEMS, system.as_str());
    store.put(item, moose_store::Condition::None).await.unwrap();
    let password = Some("correct horse battery");
    let created = auth
        .create_user(
            "admin@moose.test",
            moose_auth::OrgRole::Admin,
            None,
            password,
            None,
        )
        .await;
    let Ok((admin, _)) = created else {
        panic!("admin@moose.test already exists: one system per test store")
    };
    let actor = moose_auth::Principal {
        user: admin,
        credential: moose_auth::Credential::Supabase,
    };
    let mut ids = Vec::new();
    for (email, role) in members {
        let (u, _) = auth
            .create_user(email, moose_auth::OrgRole::Viewer, None, password, None)
            .await
            .unwrap();
        let membership = moose_auth::Membership {
            system: system.clone(),
            user: u.id.clone(),
            role: *role,
        };
        auth.grant(&actor, membership).await.unwrap();
        ids.push(u.id);
    }
    ids
}

/// Gives `user` a webhook at `url` signed with `secret`, and e-mail on or off.
pub async fn with_webhook(
    auth: &moose_auth::AuthService,
    repo: &crate::NotifyRepo,
    user: &moose_domain::UserId,
    url: &str,
    secret: &str,
    email: bool,
) {
    let contacts = moose_auth::ContactPoints {
        email: None,
        phone: None,
        webhook_url: Some(url.to_owned()),
    };
    let patch = moose_auth::ProfilePatch {
        contacts: Some(contacts),
        ..moose_auth::ProfilePatch::default()
    };
    auth.update_profile(user, patch, None).await.unwrap();
    let prefs = crate::NotifyPrefs {
        email,
        webhook: true,
        webhook_secret: Some(moose_domain::Secret::new(secret)),
        ..crate::NotifyPrefs::default()
    };
    repo.put_prefs(user, &prefs).await.unwrap();
}

/// An open, critical device-error incident on `system` opened at `at`.
pub fn incident(
    system: &moose_domain::SystemId,
    name: &str,
    at: jiff::Timestamp,
    title: &str,
) -> moose_incidents::Incident {
    use moose_incidents::{Incident, IncidentKind, Severity};
    Incident {
        id: Incident::make_id(IncidentKind::DeviceError, at, Some(system)),
        system: Some(system.clone()),
        system_name: Some(name.to_owned()),
        kind: IncidentKind::DeviceError,
        severity: Severity::Critical,
        title: title.to_owned(),
        summary: format!("{name} reports code 447."),
        action: "Call a PV technician.".into(),
        since: at,
        opened_at: at,
        last_seen_at: at,
        resolved_at: None,
        resolution: None,
        lost_energy_wh: None,
        hidden_energy_wh: None,
        acked_by: None,
        acked_at: None,
        evidence: Vec::new(),
    }
}
