//! The outbox end to end: an incident change plans notifications in the same transaction; the
//! dispatcher delivers them to a real SMTP server and a real webhook receiver, escalates and
//! reminds only while nobody acknowledged, and sends a resolution only where the opening went.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use moose_auth::{AuthService, AuthSettings, ProfilePatch, SystemRole};
use moose_domain::{Secret, SystemId, UserId};
use moose_incidents::{
    Change, ChangeEvent, Incident, IncidentKind, IncidentRepo, NotificationPlanner,
};
use moose_notify::channels::webhook::verify_signature;
use moose_notify::model::DeliveryState;
use moose_notify::testing;
use moose_notify::{
    DispatchSettings, Dispatcher, NotifyRepo, OutboxPlanner, Senders, WebhookSender,
    WebhookSettings,
};
use moose_store::Store;
use support::SmtpServer;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

type Seen = Arc<Mutex<Vec<(String, String, bool)>>>;

async fn hook(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let valid = verify_signature(
        &Secret::new(SECRET),
        &h("x-moose-signature"),
        &body,
        Timestamp::now().as_second(),
        300,
    );
    seen.lock()
        .unwrap()
        .push((h("x-moose-idempotency-key"), h("x-moose-event"), valid));
    StatusCode::NO_CONTENT
}

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

struct World {
    store: Arc<dyn Store>,
    auth: AuthService,
    incidents: IncidentRepo,
    planner: OutboxPlanner,
    dispatcher: Dispatcher,
    owner: UserId,
    installer: UserId,
    viewer: UserId,
    system: SystemId,
    _dir: tempfile::TempDir,
}

async fn world(smtp: &SmtpServer, hook_url: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let auth = AuthService::new(Arc::clone(&store), AuthSettings::default());
    let system = SystemId::parse("sys-1").unwrap();
    let members = [
        ("owner@moose.test", SystemRole::Owner),
        ("installer@moose.test", SystemRole::Installer),
        ("viewer@moose.test", SystemRole::Viewer),
    ];
    let ids = testing::system_with_members(&store, &auth, &system, "Farm North", &members).await;
    let notify = NotifyRepo::new(Arc::clone(&store));
    // The owner gets e-mail and a webhook; the installer e-mail only.
    testing::with_webhook(&auth, &notify, &ids[0], hook_url, SECRET, true).await;
    let dispatcher = Dispatcher {
        repo: notify.clone(),
        incidents: IncidentRepo::new(Arc::clone(&store)),
        auth: auth.clone(),
        senders: Senders {
            email: Some(smtp.sender()),
            webhook: Some(WebhookSender::new(WebhookSettings {
                allow_private: true,
                timeout: Duration::from_secs(5),
            })),
            sns: None,
            ops_topic_arn: None,
        },
        settings: DispatchSettings::default(),
    };
    World {
        incidents: IncidentRepo::new(Arc::clone(&store)),
        planner: OutboxPlanner {
            auth: auth.clone(),
            repo: notify,
            public_url: Some("https://moose.example.com".into()),
            ops_topic: false,
        },
        store,
        auth,
        dispatcher,
        owner: ids[0].clone(),
        installer: ids[1].clone(),
        viewer: ids[2].clone(),
        system,
        _dir: dir,
    }
}

fn incident(system: &SystemId, at: Timestamp) -> Incident {
    testing::incident(system, "Farm North", at, "Insulation fault at Farm North")
}

/// Writes the incident with its planned notifications in one transaction, as the engine does.
async fn commit(w: &World, incident: &Incident, event: ChangeEvent) {
    let version = w
        .incidents
        .incident_versioned(&incident.id)
        .await
        .unwrap()
        .map_or(0, |v| v.version);
    let change = Change {
        event,
        incident: incident.clone(),
        held: false,
        version,
    };
    let mut ops = vec![IncidentRepo::incident_op(incident, version).unwrap()];
    ops.extend(w.planner.plan(&change).await.unwrap());
    w.incidents.commit(ops).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_first_escalation_stops_on_ack_and_resolution_only_where_the_opening_went() {
    let smtp = SmtpServer::mailbox();
    let (url, seen) = receiver().await;
    let w = world(&smtp, &url).await;
    let t0 = moose_store::to_millis(Timestamp::now());
    let mut inc = incident(&w.system, t0);
    commit(&w, &inc, ChangeEvent::Opened).await;

    // Planning the same opening twice is refused (the idempotency key is the record's key).
    let again = w
        .planner
        .plan(&Change {
            event: ChangeEvent::Opened,
            incident: inc.clone(),
            held: false,
            version: 0,
        })
        .await
        .unwrap();
    assert!(
        w.store.transact(again).await.is_err(),
        "a notification is never planned twice"
    );

    // Everyone on the system sees it in the app at once, viewers included.
    let notify = NotifyRepo::new(Arc::clone(&w.store));
    for u in [&w.owner, &w.installer, &w.viewer] {
        let feed = notify.feed(u, true, 10).await.unwrap();
        assert_eq!(feed.len(), 1, "in-app entry for {u}");
    }

    // Now: only the owner is told, by e-mail and webhook.
    let s = w.dispatcher.dispatch_due(t0).await.unwrap();
    assert_eq!(s.sent, 2, "{s:?}");
    let hooks = seen.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].2, "the webhook signature verifies");
    assert_eq!(hooks[0].0, format!("{}.open.{}", inc.id, w.owner));
    assert_eq!(hooks[0].1, "incident.opened");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: owner@moose.test"), "{}", mails[0]);
    assert!(mails[0].contains("Insulation fault at Farm North"));
    assert!(mails[0].contains("https://moose.example.com/api/incidents/"));

    // Nothing else is due yet: reminders and escalation wait.
    assert_eq!(
        w.dispatcher
            .dispatch_due(t0 + SignedDuration::from_mins(5))
            .await
            .unwrap()
            .due,
        0
    );

    // Two hours later nobody acknowledged: the installer is told.
    let t_escalate = t0 + SignedDuration::from_mins(121);
    let s = w.dispatcher.dispatch_due(t_escalate).await.unwrap();
    assert_eq!(s.sent, 1, "escalation e-mail to the installer: {s:?}");
    assert!(
        smtp.mails()
            .iter()
            .any(|m| m.contains("To: installer@moose.test") && m.contains("Not acknowledged"))
    );

    // The owner acknowledges: the reminders due later are cancelled, not sent.
    inc.acked_at = Some(t_escalate);
    inc.acked_by = Some(w.owner.clone());
    let version = w
        .incidents
        .incident_versioned(&inc.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    w.incidents
        .commit(vec![IncidentRepo::incident_op(&inc, version).unwrap()])
        .await
        .unwrap();
    // A writer holding the older version (the engine, mid-pass) cannot undo the ack.
    let stale = IncidentRepo::incident_op(&incident(&w.system, t0), version).unwrap();
    assert!(
        w.incidents.commit(vec![stale]).await.is_err(),
        "a stale write is refused"
    );
    let s = w
        .dispatcher
        .dispatch_due(t0 + SignedDuration::from_hours(12))
        .await
        .unwrap();
    assert_eq!(
        (s.sent, s.cancelled),
        (0, 1),
        "the owner's reminder is cancelled by the ack: {s:?}"
    );

    // Resolved: both were told of the incident, so both hear it is over; the viewer only in-app.
    inc.resolved_at = Some(t0 + SignedDuration::from_hours(13));
    commit(&w, &inc, ChangeEvent::Resolved).await;
    let s = w
        .dispatcher
        .dispatch_due(t0 + SignedDuration::from_hours(13))
        .await
        .unwrap();
    assert_eq!(s.sent, 3, "owner e-mail + webhook, installer e-mail: {s:?}");
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(smtp.mails().len(), 4);
    assert_eq!(notify.feed(&w.viewer, false, 10).await.unwrap().len(), 2);

    // The delivery report counts every final notification of the day.
    let today = Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mut counts = std::collections::BTreeMap::new();
    for d in [today, today.tomorrow().unwrap()] {
        for (k, v) in notify.delivered_on(d).await.unwrap() {
            *counts.entry(k).or_insert(0) += v;
        }
    }
    assert_eq!(counts.get("sent"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("cancelled"), Some(&1), "{counts:?}");
    assert_eq!(notify.pending_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_is_not_sent_when_the_opening_was_not_and_quiet_hours_defer() {
    let smtp = SmtpServer::mailbox();
    let (url, seen) = receiver().await;
    let w = world(&smtp, &url).await;
    let notify = NotifyRepo::new(Arc::clone(&w.store));
    // The owner only wants critical messages, and not between 22:00 and 07:00 Vienna time.
    let mut prefs = notify.prefs(&w.owner).await.unwrap();
    prefs.quiet_hours = Some(moose_notify::QuietHours {
        start: jiff::civil::time(22, 0, 0, 0),
        end: jiff::civil::time(7, 0, 0, 0),
    });
    notify.put_prefs(&w.owner, &prefs).await.unwrap();
    w.auth
        .update_profile(
            &w.owner,
            ProfilePatch {
                time_zone: Some("Europe/Vienna".into()),
                ..ProfilePatch::default()
            },
            None,
        )
        .await
        .unwrap();

    // Opened at 23:30 Vienna: held until 07:00.
    let night: Timestamp = "2026-06-10T21:30:00Z".parse().unwrap();
    let mut inc = incident(&w.system, night);
    commit(&w, &inc, ChangeEvent::Opened).await;
    let s = w.dispatcher.dispatch_due(night).await.unwrap();
    assert_eq!(s.sent, 0, "quiet hours: {s:?}");
    assert!(seen.lock().unwrap().is_empty());
    let key = format!("{}.open.{}", inc.id, w.owner);
    let (held, _) = notify.notification(&key).await.unwrap().unwrap();
    assert_eq!(held.state, DeliveryState::Pending);
    assert_eq!(
        held.due_at,
        "2026-06-11T05:00:00Z".parse::<Timestamp>().unwrap(),
        "07:00 in Vienna"
    );

    // It resolves at 02:00, before anyone was told: neither message is sent.
    inc.resolved_at = Some("2026-06-11T00:00:00Z".parse().unwrap());
    commit(&w, &inc, ChangeEvent::Resolved).await;
    let morning: Timestamp = "2026-06-11T05:01:00Z".parse().unwrap();
    // The resolution waits while its opening is pending, and is cancelled once the opening is.
    for minutes in [0, 2, 4] {
        w.dispatcher
            .dispatch_due(morning + SignedDuration::from_mins(minutes))
            .await
            .unwrap();
    }
    assert!(seen.lock().unwrap().is_empty(), "no webhook at all");
    assert!(
        smtp.mails().iter().all(|m| !m.contains("owner@moose.test")),
        "no mail to the owner"
    );
    let (opening, _) = notify.notification(&key).await.unwrap().unwrap();
    assert_eq!(opening.state, DeliveryState::Cancelled);
    let (resolution, _) = notify
        .notification(&format!("{}.resolve.{}", inc.id, w.owner))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolution.state, DeliveryState::Cancelled, "{resolution:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_user_gets_one_message_a_day() {
    let smtp = SmtpServer::mailbox();
    let (url, seen) = receiver().await;
    let w = world(&smtp, &url).await;
    let notify = NotifyRepo::new(Arc::clone(&w.store));
    let mut prefs = notify.prefs(&w.owner).await.unwrap();
    prefs.digest = true;
    prefs.digest_hour = 8;
    notify.put_prefs(&w.owner, &prefs).await.unwrap();
    w.auth
        .update_profile(
            &w.owner,
            ProfilePatch {
                time_zone: Some("Europe/Vienna".into()),
                ..ProfilePatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let first: Timestamp = "2026-06-10T08:00:00Z".parse().unwrap();
    let mut a = incident(&w.system, first);
    a.title = "First fault".into();
    let mut b = incident(&w.system, first + SignedDuration::from_hours(3));
    b.title = "Second fault".into();
    b.kind = IncidentKind::NoData;
    b.id = Incident::make_id(IncidentKind::NoData, b.opened_at, Some(&w.system));
    commit(&w, &a, ChangeEvent::Opened).await;
    commit(&w, &b, ChangeEvent::Opened).await;
    for t in [first, first + SignedDuration::from_hours(3)] {
        w.dispatcher.dispatch_due(t).await.unwrap();
    }
    let owner_mails = || {
        smtp.mails()
            .into_iter()
            .filter(|m| m.contains("To: owner@moose.test"))
            .collect::<Vec<_>>()
    };
    assert!(owner_mails().is_empty(), "held for the digest");
    // 08:00 in Vienna the next day (06:00 UTC): one message with both.
    let digest_time: Timestamp = "2026-06-11T06:00:00Z".parse().unwrap();
    let s = w.dispatcher.dispatch_due(digest_time).await.unwrap();
    let mails = owner_mails();
    assert_eq!(mails.len(), 1, "{s:?}");
    assert!(
        mails[0].contains("First fault") && mails[0].contains("Second fault"),
        "{}",
        mails[0]
    );
    let hooks = seen.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "one webhook call for the digest");
    assert_eq!(hooks[0].1, "digest");
    for inc in [&a, &b] {
        let (n, _) = notify
            .notification(&format!("{}.open.{}", inc.id, w.owner))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n.state, DeliveryState::Sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_with_a_new_key_each_round_until_the_policy_is_used_up() {
    let smtp = SmtpServer::mailbox();
    let (url, _seen) = receiver().await;
    let w = world(&smtp, &url).await;
    let notify = NotifyRepo::new(Arc::clone(&w.store));
    notify
        .put_policy(
            &w.system,
            &moose_notify::EscalationPolicy {
                escalate_after_mins: 10_000,
                remind_every_mins: 60,
                max_reminders: 2,
            },
        )
        .await
        .unwrap();
    let t0: Timestamp = "2026-06-10T08:00:00Z".parse().unwrap();
    let inc = incident(&w.system, t0);
    commit(&w, &inc, ChangeEvent::Opened).await;
    let owner_mails = || {
        smtp.mails()
            .into_iter()
            .filter(|m| m.contains("To: owner@moose.test"))
            .collect::<Vec<_>>()
    };
    for minutes in [0, 61, 122, 183, 244] {
        w.dispatcher
            .dispatch_due(t0 + SignedDuration::from_mins(minutes))
            .await
            .unwrap();
    }
    let mails = owner_mails();
    assert_eq!(mails.len(), 3, "the opening and two reminders, no more");
    let reminders: Vec<&String> = mails.iter().filter(|m| m.contains("Reminder:")).collect();
    assert_eq!(reminders.len(), 2);
    let id = |m: &str| {
        m.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        id(reminders[0]),
        id(reminders[1]),
        "each round has its own idempotency key"
    );
    let (n, _) = notify
        .notification(&format!("{}.remind.{}", inc.id, w.owner))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.state, DeliveryState::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_delivered_opening_counts_as_told_when_the_incident_resolves() {
    let smtp = SmtpServer::mailbox();
    // The webhook points at a closed port: e-mail gets through, the webhook keeps failing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = world(&smtp, &format!("http://127.0.0.1:{closed}/hook")).await;
    let notify = NotifyRepo::new(Arc::clone(&w.store));
    let t0 = moose_store::to_millis(Timestamp::now());
    let mut inc = incident(&w.system, t0);
    commit(&w, &inc, ChangeEvent::Opened).await;
    let s = w.dispatcher.dispatch_due(t0).await.unwrap();
    assert_eq!((s.sent, s.retried), (1, 1), "{s:?}");
    inc.resolved_at = Some(t0 + SignedDuration::from_mins(5));
    commit(&w, &inc, ChangeEvent::Resolved).await;
    for minutes in [5, 10, 20] {
        w.dispatcher
            .dispatch_due(t0 + SignedDuration::from_mins(minutes))
            .await
            .unwrap();
    }
    let (opening, _) = notify
        .notification(&format!("{}.open.{}", inc.id, w.owner))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        opening.state,
        DeliveryState::Sent,
        "the e-mail went out: {opening:?}"
    );
    let owner_mails: Vec<String> = smtp
        .mails()
        .into_iter()
        .filter(|m| m.contains("To: owner@moose.test"))
        .collect();
    assert!(
        owner_mails.iter().any(|m| m.contains("Resolved:")),
        "the owner hears it is over: {owner_mails:?}"
    );
}
