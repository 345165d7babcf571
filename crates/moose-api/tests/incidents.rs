//! Incidents, system status settings and notifications over HTTP: who sees which incident, who
//! may acknowledge, the validation of every settings route and its effect on the stored
//! `STATUS`, the webhook secret shown once, the in-app feed and the delivery statistics.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::Org;
use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_incidents::model::Evidence;
use moose_incidents::{
    Incident, IncidentKind, IncidentRepo, MaintenanceWindow, Severity, SystemStatus,
};
use moose_notify::model::{DeliveryState, Notification};
use moose_notify::{FeedEntry, NotifyEvent, NotifyRepo, OutgoingMessage};
use serde_json::{Value, json};

const T0: i64 = 1_780_000_000_000;

fn sys(id: &str) -> SystemId {
    SystemId::parse(id).unwrap()
}

fn incident(kind: IncidentKind, system: Option<&str>, opened_ms: i64, open: bool) -> Incident {
    let opened = Timestamp::from_millisecond(opened_ms).unwrap();
    let system = system.map(sys);
    Incident {
        id: Incident::make_id(kind, opened, system.as_ref()),
        system_name: system.as_ref().map(|s| format!("System {s}")),
        system,
        kind,
        severity: Severity::Warning,
        title: format!("{} test", kind.as_str()),
        summary: "seeded by the test".into(),
        action: "none".into(),
        since: opened,
        opened_at: opened,
        last_seen_at: opened,
        resolved_at: (!open).then_some(opened + SignedDuration::from_hours(1)),
        resolution: None,
        lost_energy_wh: None,
        hidden_energy_wh: None,
        acked_by: None,
        acked_at: None,
        evidence: vec![Evidence {
            at: opened,
            note: "first observation".into(),
            data: json!({}),
        }],
    }
}

/// Stores the incidents, and a STATUS for each system pointing at its open ones.
async fn seed(org: &Org, incidents: &[Incident]) {
    let repo = IncidentRepo::new(org.store.clone());
    let mut statuses: BTreeMap<SystemId, SystemStatus> = BTreeMap::new();
    let mut ops = Vec::new();
    for i in incidents {
        if let Some(s) = &i.system {
            let status = statuses
                .entry(s.clone())
                .or_insert_with(|| SystemStatus::new(s.clone(), i.opened_at));
            if i.is_open() {
                status.open.insert(i.kind, i.id.clone());
            }
        }
        ops.push(IncidentRepo::incident_op(i, 0).unwrap());
    }
    for status in statuses.values() {
        ops.push(IncidentRepo::status_op(status, 0).unwrap());
    }
    repo.commit(ops).await.unwrap();
}

/// The fleet of these tests: A open no-data, B open device error, a resolved platform outage,
/// A resolved zero production; opened in that order.
fn fleet() -> Vec<Incident> {
    vec![
        incident(IncidentKind::NoData, Some("A"), T0, true),
        incident(IncidentKind::DeviceError, Some("B"), T0 + 60_000, true),
        incident(IncidentKind::UpstreamOutage, None, T0 + 120_000, false),
        incident(IncidentKind::ZeroProduction, Some("A"), T0 + 180_000, false),
    ]
}

fn ids(body: &Value) -> Vec<String> {
    body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn listing_filters_and_visibility() {
    let org = Org::new().await;
    let all = fleet();
    seed(&org, &all).await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let (admin, _) = org.login("admin@example.com").await;

    let r = org.call("GET", "/api/incidents", Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let newest_first: Vec<String> = all.iter().rev().map(|i| i.id.clone()).collect();
    assert_eq!(ids(&r.body), newest_first, "admins see all, newest first");
    assert!(r.body["next"].is_null(), "a short page is the last");
    assert!(
        r.body["incidents"][0].get("evidence").is_none(),
        "listings leave the evidence out"
    );

    let r = org.call("GET", "/api/incidents", Some(&viewer), None).await;
    assert_eq!(
        ids(&r.body),
        [all[3].id.clone(), all[2].id.clone(), all[0].id.clone()],
        "a viewer of A sees A's and the platform's, not B's"
    );
    let r = org
        .call("GET", "/api/incidents?system=B", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(message(&r.body), "no such system");
    let r = org
        .call("GET", "/api/incidents?system=B", Some(&admin), None)
        .await;
    assert_eq!(ids(&r.body), [all[1].id.clone()]);
    let r = org
        .call("GET", "/api/incidents?state=open", Some(&admin), None)
        .await;
    assert_eq!(ids(&r.body), [all[1].id.clone(), all[0].id.clone()]);
    let r = org
        .call("GET", "/api/incidents?kind=no_data", Some(&admin), None)
        .await;
    assert_eq!(ids(&r.body), [all[0].id.clone()]);
    let from = Timestamp::from_millisecond(T0 + 60_000).unwrap();
    let to = Timestamp::from_millisecond(T0 + 180_000).unwrap();
    let r = org
        .call(
            "GET",
            &format!("/api/incidents?from={from}&to={to}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        ids(&r.body),
        [all[2].id.clone(), all[1].id.clone()],
        "from inclusive, to exclusive"
    );

    // Pages: a full page names its last id, which continues the listing.
    let r = org
        .call("GET", "/api/incidents?limit=2", Some(&admin), None)
        .await;
    assert_eq!(ids(&r.body), [all[3].id.clone(), all[2].id.clone()]);
    assert_eq!(r.body["next"], all[2].id.as_str());
    let r = org
        .call(
            "GET",
            &format!("/api/incidents?limit=2&before={}", all[2].id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(ids(&r.body), [all[1].id.clone(), all[0].id.clone()]);

    for (query, param) in [
        ("kind=sunburn", "kind"),
        ("state=maybe", "state"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("before=not-an-id", "before"),
    ] {
        let r = org
            .call(
                "GET",
                &format!("/api/incidents?{query}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert!(
            message(&r.body).starts_with(&format!("{param}:")),
            "{query} names {param}: {}",
            r.body
        );
    }

    // One incident: the evidence is there; B's, a missing and a malformed id look alike.
    let r = org
        .call(
            "GET",
            &format!("/api/incidents/{}", all[0].id),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["evidence"][0]["note"], "first observation");
    let missing = Incident::make_id(
        IncidentKind::NoData,
        Timestamp::from_millisecond(T0 + 1).unwrap(),
        Some(&sys("A")),
    );
    for id in [all[1].id.as_str(), missing.as_str(), "garbage"] {
        let r = org
            .call("GET", &format!("/api/incidents/{id}"), Some(&viewer), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(message(&r.body), "no such incident", "{id}");
    }
}

#[tokio::test]
async fn acknowledging_needs_a_servicing_role_and_keeps_the_first() {
    let org = Org::new().await;
    let all = fleet();
    seed(&org, &all).await;
    let admin = org.principal(&org.admin).await;
    org.state
        .auth
        .grant(
            &admin,
            moose_auth::Membership {
                system: sys("B"),
                user: org.outsider.clone(),
                role: moose_auth::SystemRole::Owner,
            },
        )
        .await
        .unwrap();
    let (viewer, _) = org.login("viewer@example.com").await;
    let (tech, _) = org.login("tech@example.com").await;
    let (manager, _) = org.login("manager@example.com").await;
    let (owner, _) = org.login("outsider@example.com").await;
    let ack = |id: &str| format!("/api/incidents/{id}/ack");

    let r = org
        .call("POST", &ack(&all[0].id), Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(message(&r.body).contains("acknowledge"), "{}", r.body);
    let r = org.call("POST", &ack(&all[0].id), Some(&owner), None).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "B's owner cannot see A's incident"
    );
    let long = "x".repeat(501);
    let r = org
        .call(
            "POST",
            &ack(&all[0].id),
            Some(&tech),
            Some(json!({"note": long})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(message(&r.body).starts_with("note:"), "{}", r.body);

    let r = org
        .call(
            "POST",
            &ack(&all[0].id),
            Some(&tech),
            Some(json!({"note": "on my way"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["acked_by"], org.technician.to_string());
    let acked_at = r.body["acked_at"].clone();
    assert!(acked_at.is_string());
    let stored = IncidentRepo::new(org.store.clone())
        .incident(&all[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.acked_by.as_ref(), Some(&org.technician));
    // Who acknowledged is named without their e-mail address (every member can read it).
    let note = &stored.evidence.last().unwrap().note;
    assert_eq!(
        note,
        &format!("acknowledged by user {}: on my way", org.technician)
    );
    assert!(!note.contains("tech@example.com"));
    let again = org
        .call("POST", &ack(&all[0].id), Some(&manager), None)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["acked_by"], org.technician.to_string());
    assert_eq!(again.body["acked_at"], acked_at, "the first ack stays");
    let activity = org
        .call("GET", "/api/users/me/activity", Some(&tech), None)
        .await;
    assert_eq!(
        activity.body["activity"][0]["action"],
        "incident_acknowledged"
    );

    // B's owner acknowledges B's; platform incidents need a technician or above.
    let r = org.call("POST", &ack(&all[1].id), Some(&owner), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["acked_by"], org.outsider.to_string());
    let r = org
        .call("POST", &ack(&all[2].id), Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = org.call("POST", &ack(&all[2].id), Some(&tech), None).await;
    assert_eq!(r.status, StatusCode::OK, "resolved ones too: {}", r.body);
}

#[tokio::test]
async fn the_status_route_shows_open_incidents() {
    let org = Org::new().await;
    let all = fleet();
    seed(&org, &all[..1]).await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let (admin, _) = org.login("admin@example.com").await;
    let r = org
        .call("GET", "/api/systems/A/status", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["system"], "A");
    assert_eq!(r.body["open_incidents"][0]["id"], all[0].id.as_str());
    assert_eq!(r.body["open_incidents"].as_array().unwrap().len(), 1);
    let r = org
        .call("GET", "/api/systems/B/status", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        message(&r.body).contains("device-status-polling has not run"),
        "{}",
        r.body
    );
}

async fn stored_status(org: &Org, system: &str) -> SystemStatus {
    IncidentRepo::new(org.store.clone())
        .status(&sys(system))
        .await
        .unwrap()
        .expect("a status")
        .value
}

#[tokio::test]
async fn snooze_maintenance_and_grace_validate_and_change_the_status() {
    let org = Org::new().await;
    let (manager, _) = org.login("manager@example.com").await;
    let now = Timestamp::now();
    let at = |hours: i64| (now + SignedDuration::from_hours(hours)).to_string();
    let call = |method: &'static str, path: &'static str, body: Value| {
        let org = &org;
        let manager = manager.clone();
        async move { org.call(method, path, Some(&manager), Some(body)).await }
    };

    for (body, field) in [
        (json!({"until": at(-1)}), "until"),
        (json!({"until": at(31 * 24)}), "until"),
        (json!({"until": "soon"}), "until"),
        (json!({"until": 5}), "until"),
    ] {
        let r = call("POST", "/api/systems/B/snooze", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            message(&r.body).starts_with(&format!("{field}:")),
            "{}",
            r.body
        );
    }
    let r = call("POST", "/api/systems/B/snooze", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "until is required");
    let r = call("POST", "/api/systems/B/snooze", json!({"until": at(24)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["notifications_held"], true);
    let status = stored_status(&org, "B").await;
    assert_eq!(
        status.snoozed_until.map(|t| t.as_second()),
        Some((now + SignedDuration::from_hours(24)).as_second()),
        "the first write creates the STATUS"
    );
    call("POST", "/api/systems/B/snooze", json!({"until": null})).await;
    assert_eq!(stored_status(&org, "B").await.snoozed_until, None);

    let window = |from: i64, to: i64, reason: &str| json!({"from": at(from), "to": at(to), "reason": reason});
    for (body, field) in [
        (window(2, 1, "swap"), "from"),
        (window(-3, -1, "swap"), "to"),
        (window(1, 33 * 24, "swap"), "to"),
        (window(1, 2, "  "), "reason"),
        (window(1, 2, &"r".repeat(201)), "reason"),
    ] {
        let r = call("POST", "/api/systems/B/maintenance", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            message(&r.body).starts_with(&format!("{field}:")),
            "{}",
            r.body
        );
    }
    // Windows that ended long ago go; recent history stays.
    let repo = IncidentRepo::new(org.store.clone());
    let v = repo.status(&sys("B")).await.unwrap().unwrap();
    let mut status = v.value;
    for (from, to, reason) in [
        (-41 * 24, -40 * 24, "ancient"),
        (-11 * 24, -10 * 24, "recent"),
    ] {
        status.maintenance.push(MaintenanceWindow {
            from: now + SignedDuration::from_hours(from),
            to: now + SignedDuration::from_hours(to),
            reason: reason.into(),
            created_by: None,
        });
    }
    repo.commit(vec![IncidentRepo::status_op(&status, v.version).unwrap()])
        .await
        .unwrap();
    let r = call(
        "POST",
        "/api/systems/B/maintenance",
        window(1, 5, "inverter swap"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let reasons = |s: &SystemStatus| {
        s.maintenance
            .iter()
            .map(|w| w.reason.clone())
            .collect::<Vec<_>>()
    };
    let status = stored_status(&org, "B").await;
    assert_eq!(reasons(&status), ["recent", "inverter swap"]);
    assert_eq!(
        status.maintenance[1].created_by.as_ref(),
        Some(&org.manager)
    );
    let r = org
        .call("DELETE", "/api/systems/B/maintenance", Some(&manager), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(reasons(&stored_status(&org, "B").await), ["recent"]);
    let r = org
        .call("DELETE", "/api/systems/A/maintenance", Some(&manager), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no status to clear");

    for minutes in [4, 241] {
        let r = call("PUT", "/api/systems/B/grace", json!({"minutes": minutes})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(message(&r.body).starts_with("minutes:"), "{}", r.body);
    }
    let r = call("PUT", "/api/systems/B/grace", json!({"minutes": 30})).await;
    assert_eq!(r.body["grace_minutes"], 30);
    let status = stored_status(&org, "B").await;
    assert_eq!(status.grace_minutes, Some(30));
    assert_eq!(reasons(&status), ["recent"], "other settings survive");
}

#[tokio::test]
async fn escalation_policy_round_trip() {
    let org = Org::new().await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let (manager, _) = org.login("manager@example.com").await;
    let r = org
        .call("GET", "/api/systems/A/escalation", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"escalate_after_mins": 120, "remind_every_mins": 240, "max_reminders": 2})
    );
    let good = json!({"escalate_after_mins": 30, "remind_every_mins": 60, "max_reminders": 3});
    let r = org
        .call(
            "PUT",
            "/api/systems/A/escalation",
            Some(&viewer),
            Some(good.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (field, value) in [
        ("escalate_after_mins", 4),
        ("remind_every_mins", 10_081),
        ("max_reminders", 11),
    ] {
        let mut body = good.clone();
        body[field] = json!(value);
        let r = org
            .call(
                "PUT",
                "/api/systems/A/escalation",
                Some(&manager),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            message(&r.body).starts_with(&format!("{field}:")),
            "{}",
            r.body
        );
    }
    let r = org
        .call(
            "PUT",
            "/api/systems/A/escalation",
            Some(&manager),
            Some(good.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = org
        .call("GET", "/api/systems/A/escalation", Some(&viewer), None)
        .await;
    assert_eq!(r.body, good);
}

#[tokio::test]
async fn notification_settings_show_the_webhook_secret_once() {
    let org = Org::new().await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let path = "/api/users/me/notification-settings";
    let r = org.call("GET", path, Some(&viewer), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["email"], true);
    assert_eq!(r.body["webhook_secret_set"], false);
    assert!(r.body.get("webhook_secret").is_none());

    let r = org
        .call("PUT", path, Some(&viewer), Some(json!({"webhook": true})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        message(&r.body).contains("PATCH /api/users/me"),
        "{}",
        r.body
    );
    for (body, field) in [
        (json!({"min_severity": "loud"}), "min_severity"),
        (json!({"digest_hour": 24}), "digest_hour"),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
            "quiet_hours.start",
        ),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "7"}}),
            "quiet_hours.end",
        ),
    ] {
        let r = org
            .call("PUT", path, Some(&viewer), Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            message(&r.body).starts_with(&format!("{field}:")),
            "{}",
            r.body
        );
    }

    let r = org
        .call(
            "PATCH",
            "/api/users/me",
            Some(&viewer),
            Some(json!({"contacts": {"webhook_url": "https://hooks.example.com/moose"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = org
        .call(
            "PUT",
            path,
            Some(&viewer),
            Some(json!({"webhook": true, "quiet_hours": {"start": "22:00", "end": "07:00"}, "min_severity": "critical"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.body["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        r.body["quiet_hours"],
        json!({"start": "22:00", "end": "07:00"})
    );
    let stored = NotifyRepo::new(org.store.clone())
        .prefs(&org.viewer)
        .await
        .unwrap();
    assert_eq!(stored.webhook_secret.unwrap().expose(), secret);
    assert_eq!(stored.min_severity, "critical");

    let r = org.call("GET", path, Some(&viewer), None).await;
    assert_eq!(r.body["webhook_secret_set"], true);
    assert!(!r.body.to_string().contains(&secret), "never on GET");
    let r = org
        .call(
            "PUT",
            path,
            Some(&viewer),
            Some(json!({"digest": true, "quiet_hours": null})),
        )
        .await;
    assert!(
        r.body.get("webhook_secret").is_none(),
        "shown once: {}",
        r.body
    );
    assert!(r.body["quiet_hours"].is_null());
    let r = org
        .call(
            "PUT",
            path,
            Some(&viewer),
            Some(json!({"rotate_webhook_secret": true})),
        )
        .await;
    let rotated = r.body["webhook_secret"].as_str().unwrap();
    assert_ne!(rotated, secret);
    let activity = org
        .call("GET", "/api/users/me/activity", Some(&viewer), None)
        .await;
    assert_eq!(
        activity.body["activity"][0]["action"],
        "notification_settings_changed"
    );
    let log = activity.body.to_string();
    assert!(!log.contains(&secret) && !log.contains(rotated), "{log}");
}

fn feed_entry(id: &str, minutes: i64) -> FeedEntry {
    FeedEntry {
        id: id.into(),
        incident: "no_data-1780000000000-A".into(),
        system: Some(sys("A")),
        event: "incident.opened".into(),
        severity: "warning".into(),
        title: "System A sends no data".into(),
        text: "since 10:00".into(),
        link: None,
        created_at: Timestamp::from_millisecond(T0).unwrap() + SignedDuration::from_mins(minutes),
        read_at: None,
    }
}

#[tokio::test]
async fn the_feed_lists_and_marks_read() {
    let org = Org::new().await;
    let ops = vec![
        NotifyRepo::feed_op(&org.viewer, &feed_entry("n1", 0)).unwrap(),
        NotifyRepo::feed_op(&org.viewer, &feed_entry("n2", 5)).unwrap(),
    ];
    org.store.transact(ops).await.unwrap();
    let (viewer, _) = org.login("viewer@example.com").await;
    let (outsider, _) = org.login("outsider@example.com").await;
    let r = org
        .call("GET", "/api/notifications", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["notifications"][0]["id"], "n2", "newest first");
    assert_eq!(r.body["unread"], 2);
    let r = org
        .call("POST", "/api/notifications/n1/read", Some(&outsider), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "not in the outsider's feed"
    );
    let r = org
        .call("POST", "/api/notifications/n1/read", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = org
        .call("GET", "/api/notifications?unread=true", Some(&viewer), None)
        .await;
    assert_eq!(r.body["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["notifications"][0]["id"], "n2");
    let r = org
        .call("GET", "/api/notifications", Some(&viewer), None)
        .await;
    assert_eq!(r.body["unread"], 1);
    assert!(r.body["notifications"][1]["read_at"].is_string());
    let r = org
        .call("GET", "/api/notifications?limit=0", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(message(&r.body).starts_with("limit:"));
}

fn delivered(id: &str, state: DeliveryState) -> Notification {
    let now = Timestamp::now();
    Notification {
        id: id.into(),
        user: None,
        incident: "no_data-1780000000000-A".into(),
        system: Some(sys("A")),
        event: NotifyEvent::Opened,
        severity: "warning".into(),
        message: OutgoingMessage {
            idempotency_key: id.into(),
            event: "incident.opened".into(),
            severity: "warning".into(),
            subject: "s".into(),
            text: "t".into(),
            link: None,
            payload: json!({}),
        },
        unless_acked: false,
        requires_sent: vec![],
        state,
        channels: BTreeMap::new(),
        created_at: now,
        due_at: now,
        attempts: 1,
        note: None,
        finished_at: state.is_final().then_some(now),
        in_digest: false,
        repeat: None,
    }
}

#[tokio::test]
async fn delivery_stats_for_fleet_managers() {
    let org = Org::new().await;
    let (admin, _) = org.login("admin@example.com").await;
    let (viewer, _) = org.login("viewer@example.com").await;
    let r = org
        .call("GET", "/api/notifications/stats", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["days"].as_array().unwrap().len(), 7);
    assert_eq!(
        r.body["total"],
        json!({"sent": 0, "failed": 0, "cancelled": 0})
    );
    assert!(r.body["rate"].is_null());
    assert_eq!(r.body["pending"], 0);
    let r = org
        .call("GET", "/api/notifications/stats", Some(&viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = org
        .call(
            "GET",
            "/api/notifications/stats?days=32",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(message(&r.body).starts_with("days:"));

    let ops = [
        ("a", DeliveryState::Sent),
        ("b", DeliveryState::Sent),
        ("c", DeliveryState::Sent),
        ("d", DeliveryState::Failed),
        ("e", DeliveryState::Pending),
    ]
    .iter()
    .map(|(id, s)| NotifyRepo::create_op(&delivered(id, *s)).unwrap())
    .collect();
    org.store.transact(ops).await.unwrap();
    let r = org
        .call("GET", "/api/notifications/stats?days=1", Some(&admin), None)
        .await;
    assert_eq!(r.body["days"][0]["counts"]["sent"], 3);
    assert_eq!(r.body["days"][0]["rate"], 0.75);
    assert_eq!(r.body["rate"], 0.75);
    assert_eq!(r.body["pending"], 1);
}
