//! The release report (`moose_release::report`): durations and rollback taken from the
//! deployment record, the error rate from the server's counters or else the samples, each
//! success criterion of the checklist judged at its boundary (response times within 10 % of the
//! baseline with a 2 ms floor, error rate below 1 %, delivery ≥ 95 %, fresh data, checks and
//! gates), the Markdown rendering and the JSON round trip. Expected figures are worked out here
//! from the inputs, not copied from the implementation.

use moose_release::checks::{Check, ErrorRate, Freshness, Latency};
use moose_release::deployments::DeploymentView;
use moose_release::report::{
    Baseline, Component, Criterion, DeploymentRecord, Gates, LATENCY_NOISE_MS, Measured, Report,
};

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn ok(name: &str) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail: format!("{name} fine"),
    }
}

fn latency(avg_ms: f64, p99_ms: f64, samples: usize, errors: usize) -> Latency {
    Latency {
        samples,
        errors,
        avg_ms,
        p99_ms,
    }
}

/// Everything measured fine: 200 samples, no errors, fresh data, full delivery, checks passing.
fn good(avg_ms: f64) -> Measured {
    Measured {
        latency: latency(avg_ms, avg_ms * 2.0, 200, 0),
        server_errors: None,
        freshness: Freshness {
            in_daylight: 3,
            stale: vec![],
            oldest_min: Some(12),
        },
        delivery_rate: Some(1.0),
        checks: vec![ok("health"), ok("ready"), ok("auth")],
    }
}

fn gates() -> Gates {
    Gates {
        commit: Some("abc123".into()),
        passed: true,
        steps: [("clippy".to_owned(), true), ("tests".to_owned(), true)].into(),
        coverage_pct: Some(82.4),
        coverage_per_crate: [("moose-release".to_owned(), 81.0)].into(),
        advisories: Some(0),
        advisory_snapshot: Some("2026-11-20".into()),
        finished_at: Some("2026-11-27T09:00:00Z".into()),
    }
}

fn baseline(avg_ms: f64, p99_ms: f64) -> Baseline {
    Baseline {
        version: "0.0.9".into(),
        measured_at: at("2026-10-01T10:00:00Z"),
        avg_ms,
        p99_ms,
    }
}

fn report(measured: Measured, base: Option<Baseline>, g: Option<Gates>) -> Report {
    Report::new(
        "0.1.0",
        "moose-prod",
        None,
        measured,
        base,
        g,
        at("2026-11-27T10:00:00Z"),
    )
}

fn criterion<'a>(r: &'a Report, prefix: &str) -> &'a Criterion {
    r.criteria
        .iter()
        .find(|c| c.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no criterion {prefix}: {:#?}", r.criteria))
}

fn view(
    id: &str,
    group: &str,
    created: &str,
    completed: &str,
    rollback: Option<&str>,
) -> DeploymentView {
    DeploymentView {
        id: id.into(),
        group: group.into(),
        status: if rollback.is_some() {
            "Stopped"
        } else {
            "Succeeded"
        }
        .into(),
        created: Some(at(created)),
        completed: Some(at(completed)),
        rolled_back: rollback.is_some(),
        reason: rollback.map(str::to_owned),
    }
}

fn record(deployments: Vec<DeploymentView>, rollback: Option<&str>) -> DeploymentRecord {
    DeploymentRecord {
        version: "0.1.0".into(),
        host: "aws".into(),
        environment: "moose-prod".into(),
        started: at("2026-11-27T09:00:00Z"),
        finished: at("2026-11-27T09:25:30Z"),
        components: vec![
            Component {
                name: "chat-service".into(),
                from: Some("6".into()),
                to: Some("7".into()),
            },
            Component {
                name: "notify-user".into(),
                from: None,
                to: Some("1".into()),
            },
        ],
        deployments,
        rollback: rollback.map(str::to_owned),
        backup: Some("backups/2026-11-27.tar.zst".into()),
    }
}

#[test]
fn response_times_may_grow_by_10_percent_of_the_baseline_or_2_ms_whichever_is_more() {
    assert_eq!(LATENCY_NOISE_MS, 2.0);
    let margin = 1e-6;
    // A slow path: 10 % of 80 ms is 8 ms, more than the floor.
    for (avg, met) in [(88.0 - margin, true), (88.0 + 0.01, false), (60.0, true)] {
        let r = report(good(avg), Some(baseline(80.0, 200.0)), Some(gates()));
        assert_eq!(
            criterion(&r, "response times").met,
            Some(met),
            "{avg} ms against 80 ms"
        );
        assert_eq!(r.success, met);
    }
    // A fast path: 10 % of 5 ms is 0.5 ms, so the 2 ms floor applies.
    for (avg, met) in [(6.9, true), (7.0 - margin, true), (7.01, false)] {
        let r = report(good(avg), Some(baseline(5.0, 9.0)), Some(gates()));
        assert_eq!(
            criterion(&r, "response times").met,
            Some(met),
            "{avg} ms against 5 ms"
        );
    }
}

#[test]
fn latency_changes_are_percentages_of_the_baseline() {
    let r = report(
        Measured {
            latency: latency(45.0, 90.0, 100, 0),
            ..good(45.0)
        },
        Some(baseline(50.0, 60.0)),
        Some(gates()),
    );
    let expect = |now: f64, before: f64| (now - before) / before * 100.0;
    assert!((r.avg_change_pct.unwrap() - expect(45.0, 50.0)).abs() < 1e-9);
    assert!((r.p99_change_pct.unwrap() - expect(90.0, 60.0)).abs() < 1e-9);
    assert!(r.avg_change_pct.unwrap() < 0.0 && r.p99_change_pct.unwrap() > 0.0);
    // Only the mean is judged: a slower p99 alone does not fail the release.
    assert_eq!(criterion(&r, "response times").met, Some(true));
    let detail = &criterion(&r, "response times").detail;
    assert!(
        detail.contains("mean 45.0 ms against 50.0 ms of 0.0.9 (-10.0 %)"),
        "{detail}"
    );
    assert!(detail.contains("p99 90.0 ms against 60.0 ms"), "{detail}");
    // A baseline of zero cannot give a percentage.
    let r = report(good(3.0), Some(baseline(0.0, 0.0)), Some(gates()));
    assert_eq!((r.avg_change_pct, r.p99_change_pct), (None, None));
    // No baseline: not measurable, and not held against the release.
    let r = report(good(3.0), None, Some(gates()));
    let c = criterion(&r, "response times");
    assert_eq!(c.met, None);
    assert!(c.detail.contains("is the next baseline"), "{}", c.detail);
    assert!(r.success, "{:#?}", r.criteria);
}

#[test]
fn the_error_rate_comes_from_the_servers_counters_when_they_counted_anything() {
    // 9 in 1000 is below 1 %; 10 in 1000 is not.
    for (errors, met) in [(9.0, true), (10.0, false)] {
        let r = report(
            Measured {
                server_errors: Some(ErrorRate {
                    requests: 1000.0,
                    errors,
                }),
                ..good(10.0)
            },
            None,
            Some(gates()),
        );
        assert!((r.error_rate - errors / 1000.0).abs() < 1e-12);
        assert_eq!(
            r.error_rate_source,
            format!("the server's counters: {errors} 5xx in 1000 requests")
        );
        assert_eq!(criterion(&r, "error rate").met, Some(met));
        assert_eq!(r.success, met);
    }
    // Counters that counted nothing: the samples decide (3 of 200 failed = 1.5 %).
    let r = report(
        Measured {
            server_errors: Some(ErrorRate {
                requests: 0.0,
                errors: 0.0,
            }),
            latency: latency(10.0, 20.0, 200, 3),
            ..good(10.0)
        },
        None,
        Some(gates()),
    );
    assert!((r.error_rate - 3.0 / 200.0).abs() < 1e-12);
    assert_eq!(r.error_rate_source, "3 failed of 200 sampled requests");
    assert_eq!(criterion(&r, "error rate").met, Some(false));
    assert_eq!(criterion(&r, "zero critical errors").met, Some(false));
    // No samples at all: a rate of 0.
    let r = report(
        Measured {
            latency: Latency::default(),
            ..good(0.0)
        },
        None,
        Some(gates()),
    );
    assert_eq!(r.error_rate, 0.0);
    assert_eq!(r.error_rate_source, "0 failed of 0 sampled requests");
}

#[test]
fn checks_freshness_delivery_and_gates_are_each_judged() {
    let mut m = good(10.0);
    m.checks.push(Check {
        name: "chat".into(),
        ok: false,
        detail: "HTTP 500".into(),
    });
    m.checks.push(Check {
        name: "polling".into(),
        ok: false,
        detail: "not running".into(),
    });
    m.freshness = Freshness {
        in_daylight: 4,
        stale: vec!["a (95 min)".into()],
        oldest_min: Some(95),
    };
    m.delivery_rate = Some(0.949);
    let mut g = gates();
    g.passed = false;
    g.steps.insert("coverage".into(), false);
    g.coverage_pct = None;
    g.advisories = None;
    g.advisory_snapshot = None;
    let r = report(m, None, Some(g));
    assert!(!r.success);
    let c = criterion(&r, "all health checks");
    assert_eq!(
        (c.met, c.detail.as_str()),
        (Some(false), "failed: chat, polling")
    );
    let c = criterion(&r, "data fresh");
    assert_eq!(c.met, Some(false));
    assert_eq!(
        c.detail,
        "4 system(s) in daylight, 1 without recent data; oldest 95 min"
    );
    let c = criterion(&r, "notification delivery");
    assert_eq!(
        (c.met, c.detail.as_str()),
        (Some(false), "94.9 % over the last day")
    );
    let c = criterion(&r, "release gates");
    assert_eq!(c.met, Some(false));
    assert_eq!(
        c.detail,
        "coverage not measured, advisories ? (snapshot ?); failed: coverage"
    );

    // Passing figures for the same criteria.
    let r = report(good(10.0), None, Some(gates()));
    assert_eq!(criterion(&r, "all health checks").detail, "3 checks passed");
    assert_eq!(
        criterion(&r, "release gates").detail,
        "coverage 82.4 %, advisories 0 (snapshot 2026-11-20)"
    );
    assert_eq!(
        criterion(&r, "notification delivery").met,
        Some(true),
        "100 %"
    );
    // Delivery exactly at 95 % meets the criterion; nothing due is not measurable.
    let mut m = good(10.0);
    m.delivery_rate = Some(0.95);
    assert_eq!(
        criterion(&report(m, None, Some(gates())), "notification").met,
        Some(true)
    );
    let mut m = good(10.0);
    m.delivery_rate = None;
    let r = report(m, None, Some(gates()));
    assert_eq!(criterion(&r, "notification").met, None);
    assert!(r.success);
    // No checks ran: that is not "all passing".
    let mut m = good(10.0);
    m.checks.clear();
    m.freshness = Freshness::default();
    let r = report(m, None, Some(gates()));
    let c = criterion(&r, "all health checks");
    assert_eq!((c.met, c.detail.as_str()), (Some(false), "no checks ran"));
    assert!(criterion(&r, "data fresh").detail.ends_with("oldest —"));
    // No gates result: the release is not a success.
    let r = report(good(10.0), None, None);
    assert_eq!(criterion(&r, "release gates").met, Some(false));
    assert!(!r.success);
}

#[test]
fn durations_and_a_rollback_come_from_the_deployment_record() {
    let deployments = vec![
        view(
            "d-B",
            "SolarDataServiceGroup",
            "2026-11-27T09:02:00Z",
            "2026-11-27T09:12:00Z",
            None,
        ),
        view(
            "d-A",
            "ChatServiceGroup",
            "2026-11-27T09:01:30Z",
            "2026-11-27T09:20:45Z",
            Some("alarm ChatServiceNewVersionErrors"),
        ),
    ];
    let rec = record(deployments, None);
    let release_s = rec.finished.as_second() - rec.started.as_second();
    // First created (09:01:30) to last completed (09:20:45).
    let deploy_s = 19 * 60 + 15;
    let r = Report::new(
        "0.1.0",
        "moose-prod",
        Some(rec),
        good(10.0),
        None,
        Some(gates()),
        at("2026-11-27T10:00:00Z"),
    );
    assert_eq!(r.release_duration_s, Some(release_s));
    assert_eq!(release_s, 25 * 60 + 30);
    assert_eq!(r.deployment_duration_s, Some(deploy_s));
    assert!(r.rolled_back);
    assert_eq!(
        r.rollback_reason.as_deref(),
        Some("ChatServiceGroup: alarm ChatServiceNewVersionErrors")
    );
    let c = criterion(&r, "zero critical errors");
    assert_eq!(c.met, Some(false));
    assert!(c.detail.ends_with("the release was rolled back"));
    assert!(!r.success);

    // A rollback recorded by `moose release rollback` says why in its own words.
    let r = Report::new(
        "0.1.0",
        "moose-prod",
        Some(record(
            vec![],
            Some("manual: wrong figures on the dashboard"),
        )),
        good(10.0),
        None,
        Some(gates()),
        at("2026-11-27T10:00:00Z"),
    );
    assert_eq!(
        r.rollback_reason.as_deref(),
        Some("manual: wrong figures on the dashboard")
    );
    assert_eq!(r.deployment_duration_s, None, "no deployments");

    // A clean release.
    let r = Report::new(
        "0.1.0",
        "moose-prod",
        Some(record(vec![], None)),
        good(10.0),
        None,
        Some(gates()),
        at("2026-11-27T10:00:00Z"),
    );
    assert!(!r.rolled_back && r.rollback_reason.is_none());
    assert!(r.success, "{:#?}", r.criteria);
}

#[test]
fn the_markdown_follows_the_checklist_template() {
    let rec = record(
        vec![
            view(
                "d-A",
                "ChatServiceGroup",
                "2026-11-27T09:01:00Z",
                "2026-11-27T09:08:00Z",
                None,
            ),
            view(
                "d-B",
                "ApiGroup",
                "2026-11-27T09:01:00Z",
                "2026-11-27T09:05:00Z",
                Some("hook failed"),
            ),
        ],
        None,
    );
    let mut m = good(55.0);
    m.server_errors = Some(ErrorRate {
        requests: 400.0,
        errors: 2.0,
    });
    m.checks.push(Check {
        name: "delivery".into(),
        ok: false,
        detail: "below 95 %".into(),
    });
    m.delivery_rate = None;
    let r = Report::new(
        "0.1.0",
        "moose-prod",
        Some(rec),
        m,
        Some(baseline(50.0, 100.0)),
        Some(gates()),
        at("2026-11-27T10:00:00Z"),
    );
    let md = r.to_markdown();
    let order = [
        "# Backend Release Report - v0.1.0",
        "## Release Summary",
        "## Metrics",
        "## Success Criteria",
        "## Checks",
        "## Deployments",
        "## Lessons Learned",
        "## Next Steps",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|h| md.find(h).unwrap_or_else(|| panic!("{h} missing:\n{md}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{md}");
    for line in [
        // The deployment's start, not the report's time.
        "- **Release Date**: 2026-11-27 09:00 UTC",
        "- **Environment**: moose-prod",
        "- **Duration**: 25.5 minutes (1530 s)",
        "- **Components Updated**: chat-service 6 → 7; notify-user — → 1",
        "- **Verdict**: FAILED",
        // 2 of 400 = 0.50 %.
        "- **Error Rate**: 0.50 % (the server's counters: 2 5xx in 400 requests)",
        // +10 % mean (55 against 50), +10 % p99 (110 against 100).
        "- **Average Response Time**: 55.0 ms (p99 110.0 ms, 200 samples); baseline v0.0.9 50.0 ms / p99 100.0 ms (+10.0 % / +10.0 %)",
        "- **Deployment Duration**: 7.0 minutes (420 s)",
        "- **Rollback Required**: Yes — ApiGroup: hook failed",
        "- **Data Freshness**: 3 system(s) in daylight, 0 stale",
        "- **Notification Delivery Rate**: —",
        "- **Gates**: passed — coverage 82.4 %, advisories 0 (snapshot 2026-11-20)",
        "- [x] **error rate below 1 %**",
        "- [ ] ✗ **zero critical errors**",
        "- [ ] ✗ **all health checks passing**: failed: delivery",
        "- [ ] – **notification delivery ≥ 95 %**",
        "- ✓ health: health fine",
        "- ✗ delivery: below 95 %",
        "- d-A ChatServiceGroup: Succeeded",
        "- d-B ApiGroup: Stopped — hook failed",
        "`moose verify --env moose-prod`",
    ] {
        assert!(md.contains(line), "{line:?} missing:\n{md}");
    }
    // Issues name every unmet criterion, and only those.
    let issues = md
        .lines()
        .find(|l| l.starts_with("- **Issues Encountered**"))
        .unwrap();
    assert!(issues.contains("zero critical errors ("), "{issues}");
    assert!(
        issues.contains("all health checks passing (failed: delivery)"),
        "{issues}"
    );
    assert!(!issues.contains("error rate"), "{issues}");
}

#[test]
fn a_report_without_deployment_or_baseline_renders_what_it_lacks() {
    let r = report(good(4.0), None, None);
    let md = r.to_markdown();
    for line in [
        // The report's own time stands in for the release date.
        "- **Release Date**: 2026-11-27 10:00 UTC",
        "- **Duration**: not recorded",
        "- **Components Updated**: not recorded",
        "- **Deployment Duration**: not recorded",
        "- **Rollback Required**: No",
        "; no baseline",
        "- **Notification Delivery Rate**: 100.0 %",
        "- **Issues Encountered**: release gates passed (no release-check result (run scripts/release-check))",
    ] {
        assert!(md.contains(line), "{line:?} missing:\n{md}");
    }
    assert!(!md.contains("## Deployments"), "{md}");
    assert!(!md.contains("**Gates**"), "{md}");

    let fine = report(good(4.0), None, Some(gates())).to_markdown();
    assert!(fine.contains("- **Issues Encountered**: None"), "{fine}");
    assert!(fine.contains("- **Verdict**: success"), "{fine}");
    assert!(
        fine.contains("- [ ] – **response times within 10 % of baseline**"),
        "{fine}"
    );
}

#[test]
fn a_report_survives_a_json_round_trip_and_becomes_the_next_baseline() {
    let r = Report::new(
        "0.1.0",
        "moose-prod",
        Some(record(
            vec![view(
                "d-A",
                "ChatServiceGroup",
                "2026-11-27T09:01:00Z",
                "2026-11-27T09:08:00Z",
                None,
            )],
            None,
        )),
        Measured {
            server_errors: Some(ErrorRate {
                requests: 50.0,
                errors: 0.0,
            }),
            ..good(12.5)
        },
        // Figures whose changes are exact in binary (+25 % each), so equality is meaningful.
        Some(baseline(10.0, 20.0)),
        Some(gates()),
        at("2026-11-27T10:00:00Z"),
    );
    assert_eq!(
        (r.avg_change_pct, r.p99_change_pct),
        (Some(25.0), Some(25.0))
    );
    let text = serde_json::to_string_pretty(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.to_markdown(), r.to_markdown());

    let next = Baseline::of(&back);
    assert_eq!(next.version, "0.1.0");
    assert_eq!(next.measured_at, at("2026-11-27T10:00:00Z"));
    assert_eq!((next.avg_ms, next.p99_ms), (12.5, 25.0));
}

#[test]
fn release_check_json_and_an_old_deployment_record_read_with_defaults() {
    let g: Gates = serde_json::from_str(r#"{"passed": false}"#).unwrap();
    assert_eq!(
        g,
        Gates {
            passed: false,
            ..Gates::default()
        }
    );
    let g: Gates = serde_json::from_str(
        r#"{"passed": true, "commit": "abc", "steps": {"fmt": true, "tests": false},
            "coverage_pct": 80.4, "coverage_per_crate": {"moose-release": 83.1},
            "advisories": 2, "advisory_snapshot": "2026-11-01", "finished_at": "x"}"#,
    )
    .unwrap();
    assert_eq!(g.steps.get("tests"), Some(&false));
    assert_eq!(g.coverage_per_crate["moose-release"], 83.1);
    assert_eq!(g.advisories, Some(2));
    assert!(
        serde_json::from_str::<Gates>("{}").is_err(),
        "passed is required"
    );

    let rec: DeploymentRecord = serde_json::from_str(
        r#"{"version": "0.0.9", "host": "self-hosted", "environment": "http://127.0.0.1:8080",
            "started": "2026-10-01T10:00:00Z", "finished": "2026-10-01T10:03:00Z",
            "components": [{"name": "moose serve", "from": "0.0.8", "to": "0.0.9"}]}"#,
    )
    .unwrap();
    assert!(rec.deployments.is_empty() && rec.rollback.is_none() && rec.backup.is_none());
    assert_eq!(rec.components[0].from.as_deref(), Some("0.0.8"));
}
