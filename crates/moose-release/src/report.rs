//! The release report: the old checklist's "Post-Release Report Template", filled from what
//! was measured — the deployment record (`moose release deploy`), the gates
//! (`scripts/release-check`), and figures taken from the running environment now (sampled
//! latency, the server's error rate, data freshness, delivery rate, the smoke checks) —
//! judged by the checklist's success criteria, as Markdown for people and JSON for machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::checks::{Check, Freshness, Latency};
use crate::deployments::DeploymentView;

/// What `scripts/release-check` found (its `release-check.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Gates {
    /// The commit checked.
    #[serde(default)]
    pub commit: Option<String>,
    /// Every gate passed.
    pub passed: bool,
    /// Each gate: passed or not.
    #[serde(default)]
    pub steps: BTreeMap<String, bool>,
    /// Line coverage of the workspace, percent.
    #[serde(default)]
    pub coverage_pct: Option<f64>,
    /// Line coverage per crate, percent.
    #[serde(default)]
    pub coverage_per_crate: BTreeMap<String, f64>,
    /// Known advisories affecting the lockfile.
    #[serde(default)]
    pub advisories: Option<u64>,
    /// The advisory database snapshot's date.
    #[serde(default)]
    pub advisory_snapshot: Option<String>,
    /// When the gates ran.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// A component updated by a release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Component {
    /// A function name, or `moose serve`.
    pub name: String,
    /// The version before (a Lambda version number or Moose's version).
    pub from: Option<String>,
    /// The version after.
    pub to: Option<String>,
}

/// What `moose release deploy` (or a self-hosted upgrade) recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeploymentRecord {
    /// Moose's version released.
    pub version: String,
    /// `aws` or `self-hosted`.
    pub host: String,
    /// Where (stack name, or URL).
    pub environment: String,
    /// When the release started.
    pub started: jiff::Timestamp,
    /// When it ended (deployments over, verify run).
    pub finished: jiff::Timestamp,
    /// What changed.
    pub components: Vec<Component>,
    /// CodeDeploy's deployments.
    #[serde(default)]
    pub deployments: Vec<DeploymentView>,
    /// Why the release was rolled back, if it was (by CodeDeploy or `moose release rollback`).
    #[serde(default)]
    pub rollback: Option<String>,
    /// The backup taken first.
    #[serde(default)]
    pub backup: Option<String>,
}

/// Figures measured on the environment for the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Measured {
    /// Sampled read requests.
    pub latency: Latency,
    /// Server errors / requests from the server's own counters, when readable.
    pub server_errors: Option<crate::checks::ErrorRate>,
    /// Systems in daylight and their data age.
    pub freshness: Freshness,
    /// Notification delivery rate over the last day (`None`: nothing was due, or unreadable).
    pub delivery_rate: Option<f64>,
    /// The smoke checks (`moose verify`).
    pub checks: Vec<Check>,
}

/// One success criterion of the checklist.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Criterion {
    /// What is judged.
    pub name: String,
    /// Met, not met, or not measurable here (`None`).
    pub met: Option<bool>,
    /// The figures behind it.
    pub detail: String,
}

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Moose's version.
    pub version: String,
    /// When this report was made.
    pub generated_at: jiff::Timestamp,
    /// The environment measured.
    pub environment: String,
    /// The deployment, when one was recorded.
    pub deployment: Option<DeploymentRecord>,
    /// Release start to end, seconds.
    pub release_duration_s: Option<i64>,
    /// First deployment created to last completed, seconds.
    pub deployment_duration_s: Option<i64>,
    /// Whether the release was rolled back, and why.
    pub rolled_back: bool,
    /// Why.
    pub rollback_reason: Option<String>,
    /// Server errors / requests: the server's counters when readable, else the samples.
    pub error_rate: f64,
    /// Where `error_rate` comes from.
    pub error_rate_source: String,
    /// What was measured.
    pub measured: Measured,
    /// The previous release's report, if any.
    pub baseline: Option<Baseline>,
    /// Mean latency change against the baseline, percent.
    pub avg_change_pct: Option<f64>,
    /// p99 latency change against the baseline, percent.
    pub p99_change_pct: Option<f64>,
    /// The gates.
    pub gates: Option<Gates>,
    /// The checklist's success criteria.
    pub criteria: Vec<Criterion>,
    /// Every measurable criterion met.
    pub success: bool,
}

/// The previous release's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// Its version.
    pub version: String,
    /// When it was measured.
    pub measured_at: jiff::Timestamp,
    /// Its mean latency, ms.
    pub avg_ms: f64,
    /// Its p99 latency, ms.
    pub p99_ms: f64,
}

impl Baseline {
    /// The figures of an earlier report.
    pub fn of(report: &Report) -> Self {
        Self {
            version: report.version.clone(),
            measured_at: report.generated_at,
            avg_ms: report.measured.latency.avg_ms,
            p99_ms: report.measured.latency.p99_ms,
        }
    }
}

/// Latency differences below this are measurement noise on a fast path (a loopback request
/// takes about a millisecond), so "within 10 %" allows at least this much, milliseconds.
pub const LATENCY_NOISE_MS: f64 = 2.0;

fn change_pct(now: f64, before: f64) -> Option<f64> {
    (before > 0.0).then(|| (now - before) / before * 100.0)
}

impl Report {
    /// Judges the figures.
    pub fn new(
        version: &str,
        environment: &str,
        deployment: Option<DeploymentRecord>,
        measured: Measured,
        baseline: Option<Baseline>,
        gates: Option<Gates>,
        now: jiff::Timestamp,
    ) -> Self {
        let release_duration_s = deployment
            .as_ref()
            .map(|d| d.finished.as_second() - d.started.as_second());
        let deployment_duration_s = deployment.as_ref().and_then(|d| {
            let first = d.deployments.iter().filter_map(|x| x.created).min()?;
            let last = d.deployments.iter().filter_map(|x| x.completed).max()?;
            Some(last.as_second() - first.as_second())
        });
        let rollback_reason = deployment.as_ref().and_then(|d| {
            d.rollback.clone().or_else(|| {
                d.deployments
                    .iter()
                    .find(|x| x.rolled_back)
                    .map(|x| format!("{}: {}", x.group, x.reason.clone().unwrap_or_default()))
            })
        });
        let (error_rate, error_rate_source) = match measured.server_errors {
            Some(e) if e.requests > 0.0 => (
                e.rate(),
                format!(
                    "the server's counters: {} 5xx in {} requests",
                    e.errors, e.requests
                ),
            ),
            _ => {
                let l = &measured.latency;
                let rate = if l.samples > 0 {
                    l.errors as f64 / l.samples as f64
                } else {
                    0.0
                };
                (
                    rate,
                    format!("{} failed of {} sampled requests", l.errors, l.samples),
                )
            }
        };
        let avg_change_pct = baseline
            .as_ref()
            .and_then(|b| change_pct(measured.latency.avg_ms, b.avg_ms));
        let p99_change_pct = baseline
            .as_ref()
            .and_then(|b| change_pct(measured.latency.p99_ms, b.p99_ms));
        let mut report = Self {
            version: version.to_owned(),
            generated_at: now,
            environment: environment.to_owned(),
            rolled_back: rollback_reason.is_some(),
            rollback_reason,
            deployment,
            release_duration_s,
            deployment_duration_s,
            error_rate,
            error_rate_source,
            measured,
            baseline,
            avg_change_pct,
            p99_change_pct,
            gates,
            criteria: Vec::new(),
            success: false,
        };
        report.criteria = report.judge();
        report.success = report.criteria.iter().all(|c| c.met != Some(false));
        report
    }

    fn judge(&self) -> Vec<Criterion> {
        let m = &self.measured;
        let mut out = Vec::new();
        let critical = m.latency.errors;
        out.push(Criterion {
            name: "zero critical errors".into(),
            met: Some(critical == 0 && !self.rolled_back),
            detail: format!(
                "{critical} failed sampled request(s){}",
                if self.rolled_back {
                    "; the release was rolled back"
                } else {
                    ""
                }
            ),
        });
        out.push(Criterion {
            name: "error rate below 1 %".into(),
            met: Some(self.error_rate < 0.01),
            detail: format!(
                "{:.2} % ({})",
                self.error_rate * 100.0,
                self.error_rate_source
            ),
        });
        out.push(match &self.baseline {
            Some(b) => {
                let limit = (b.avg_ms * 0.10).max(LATENCY_NOISE_MS);
                Criterion {
                    name: "response times within 10 % of baseline".into(),
                    met: Some(m.latency.avg_ms <= b.avg_ms + limit),
                    detail: format!(
                        "mean {:.1} ms against {:.1} ms of {} ({:+.1} %), p99 {:.1} ms against {:.1} ms",
                        m.latency.avg_ms,
                        b.avg_ms,
                        b.version,
                        self.avg_change_pct.unwrap_or(0.0),
                        m.latency.p99_ms,
                        b.p99_ms
                    ),
                }
            }
            None => Criterion {
                name: "response times within 10 % of baseline".into(),
                met: None,
                detail: format!(
                    "no earlier report to compare with; this release's mean {:.1} ms, p99 {:.1} ms is the next baseline",
                    m.latency.avg_ms, m.latency.p99_ms
                ),
            },
        });
        let failed: Vec<&str> = m
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        out.push(Criterion {
            name: "all health checks passing".into(),
            met: Some(!m.checks.is_empty() && failed.is_empty()),
            detail: if m.checks.is_empty() {
                "no checks ran".into()
            } else if failed.is_empty() {
                format!("{} checks passed", m.checks.len())
            } else {
                format!("failed: {}", failed.join(", "))
            },
        });
        out.push(Criterion {
            name: "data fresh".into(),
            met: Some(m.freshness.stale.is_empty()),
            detail: format!(
                "{} system(s) in daylight, {} without recent data; oldest {}",
                m.freshness.in_daylight,
                m.freshness.stale.len(),
                m.freshness
                    .oldest_min
                    .map_or_else(|| "—".to_owned(), |o| format!("{o} min"))
            ),
        });
        out.push(Criterion {
            name: "notification delivery ≥ 95 %".into(),
            met: m.delivery_rate.map(|r| r >= 0.95),
            detail: m.delivery_rate.map_or_else(
                || "nothing due in the last day, or not readable with this credential".into(),
                |r| format!("{:.1} % over the last day", r * 100.0),
            ),
        });
        out.push(match &self.gates {
            Some(g) => Criterion {
                name: "release gates passed".into(),
                met: Some(g.passed),
                detail: format!(
                    "coverage {}, advisories {} (snapshot {}){}",
                    g.coverage_pct
                        .map_or_else(|| "not measured".to_owned(), |c| format!("{c:.1} %")),
                    g.advisories
                        .map_or_else(|| "?".to_owned(), |a| a.to_string()),
                    g.advisory_snapshot.as_deref().unwrap_or("?"),
                    {
                        let failed: Vec<&str> = g
                            .steps
                            .iter()
                            .filter(|(_, ok)| !**ok)
                            .map(|(n, _)| n.as_str())
                            .collect();
                        if failed.is_empty() {
                            String::new()
                        } else {
                            format!("; failed: {}", failed.join(", "))
                        }
                    }
                ),
            },
            None => Criterion {
                name: "release gates passed".into(),
                met: Some(false),
                detail: "no release-check result (run scripts/release-check)".into(),
            },
        });
        out
    }

    /// The report as Markdown, in the checklist template's order.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.measured;
        let _ = writeln!(s, "# Backend Release Report - v{}\n", self.version);
        let _ = writeln!(s, "## Release Summary");
        let started = self
            .deployment
            .as_ref()
            .map(|d| d.started)
            .unwrap_or(self.generated_at);
        let _ = writeln!(
            s,
            "- **Release Date**: {}",
            started.strftime("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(s, "- **Environment**: {}", self.environment);
        let _ = writeln!(s, "- **Duration**: {}", minutes(self.release_duration_s));
        let components = self.deployment.as_ref().map_or_else(
            || "not recorded".to_owned(),
            |d| {
                d.components
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} → {}",
                            c.name,
                            c.from.as_deref().unwrap_or("—"),
                            c.to.as_deref().unwrap_or("—")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        );
        let _ = writeln!(s, "- **Components Updated**: {components}");
        let issues: Vec<String> = self
            .criteria
            .iter()
            .filter(|c| c.met == Some(false))
            .map(|c| format!("{} ({})", c.name, c.detail))
            .collect();
        let _ = writeln!(
            s,
            "- **Issues Encountered**: {}",
            if issues.is_empty() {
                "None".to_owned()
            } else {
                issues.join("; ")
            }
        );
        let _ = writeln!(
            s,
            "- **Verdict**: {}\n",
            if self.success { "success" } else { "FAILED" }
        );
        let _ = writeln!(s, "## Metrics");
        let _ = writeln!(
            s,
            "- **Error Rate**: {:.2} % ({})",
            self.error_rate * 100.0,
            self.error_rate_source
        );
        let _ = writeln!(
            s,
            "- **Average Response Time**: {:.1} ms (p99 {:.1} ms, {} samples){}",
            m.latency.avg_ms,
            m.latency.p99_ms,
            m.latency.samples,
            match &self.baseline {
                Some(b) => format!(
                    "; baseline v{} {:.1} ms / p99 {:.1} ms ({:+.1} % / {:+.1} %)",
                    b.version,
                    b.avg_ms,
                    b.p99_ms,
                    self.avg_change_pct.unwrap_or(0.0),
                    self.p99_change_pct.unwrap_or(0.0)
                ),
                None => "; no baseline".to_owned(),
            }
        );
        let _ = writeln!(
            s,
            "- **Deployment Duration**: {}",
            minutes(self.deployment_duration_s)
        );
        let _ = writeln!(
            s,
            "- **Rollback Required**: {}",
            match &self.rollback_reason {
                Some(why) => format!("Yes — {why}"),
                None => "No".to_owned(),
            }
        );
        let _ = writeln!(
            s,
            "- **Data Freshness**: {} system(s) in daylight, {} stale",
            m.freshness.in_daylight,
            m.freshness.stale.len()
        );
        let _ = writeln!(
            s,
            "- **Notification Delivery Rate**: {}",
            m.delivery_rate
                .map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0))
        );
        if let Some(g) = &self.gates {
            let _ = writeln!(
                s,
                "- **Gates**: {} — coverage {}, advisories {} (snapshot {})",
                if g.passed { "passed" } else { "FAILED" },
                g.coverage_pct
                    .map_or_else(|| "not measured".to_owned(), |c| format!("{c:.1} %")),
                g.advisories
                    .map_or_else(|| "?".to_owned(), |a| a.to_string()),
                g.advisory_snapshot.as_deref().unwrap_or("?")
            );
        }
        let _ = writeln!(s, "\n## Success Criteria");
        for c in &self.criteria {
            let mark = match c.met {
                Some(true) => "[x]",
                Some(false) => "[ ] ✗",
                None => "[ ] –",
            };
            let _ = writeln!(s, "- {mark} **{}**: {}", c.name, c.detail);
        }
        let _ = writeln!(s, "\n## Checks");
        for c in &m.checks {
            let _ = writeln!(
                s,
                "- {} {}: {}",
                if c.ok { "✓" } else { "✗" },
                c.name,
                c.detail
            );
        }
        if let Some(d) = &self.deployment
            && !d.deployments.is_empty()
        {
            let _ = writeln!(s, "\n## Deployments");
            for x in &d.deployments {
                let _ = writeln!(
                    s,
                    "- {} {}: {}{}",
                    x.id,
                    x.group,
                    x.status,
                    x.reason
                        .as_ref()
                        .map_or_else(String::new, |r| format!(" — {r}"))
                );
            }
        }
        let _ = writeln!(
            s,
            "\n## Lessons Learned\n- (to be written by the release owner)"
        );
        let _ = writeln!(
            s,
            "\n## Next Steps\n- Watch the alarms and `moose verify --env {}` over the first hour; the error rate criterion covers 24 hours.",
            self.environment
        );
        s
    }
}

fn minutes(s: Option<i64>) -> String {
    s.map_or_else(
        || "not recorded".to_owned(),
        |s| format!("{:.1} minutes ({s} s)", s as f64 / 60.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(avg: f64, errors: usize) -> Measured {
        Measured {
            latency: Latency {
                samples: 100,
                errors,
                avg_ms: avg,
                p99_ms: avg * 3.0,
            },
            checks: vec![Check {
                name: "health".into(),
                ok: true,
                detail: String::new(),
            }],
            ..Measured::default()
        }
    }

    fn gates() -> Gates {
        Gates {
            passed: true,
            coverage_pct: Some(83.0),
            ..Gates::default()
        }
    }

    #[test]
    fn latency_is_judged_against_the_baseline_with_a_noise_floor() {
        let now = jiff::Timestamp::now();
        let base = Baseline {
            version: "0.0.9".into(),
            measured_at: now,
            avg_ms: 40.0,
            p99_ms: 120.0,
        };
        let slower = Report::new(
            "0.1.0",
            "x",
            None,
            measured(46.0, 0),
            Some(base.clone()),
            Some(gates()),
            now,
        );
        assert!((slower.avg_change_pct.unwrap() - 15.0).abs() < 1e-9);
        assert!(!slower.success, "{:?}", slower.criteria);
        let fine = Report::new(
            "0.1.0",
            "x",
            None,
            measured(43.9, 0),
            Some(base),
            Some(gates()),
            now,
        );
        assert!(fine.success, "{:?}", fine.criteria);
        // 1 ms → 2.5 ms is +150 % but within the noise floor.
        let tiny = Baseline {
            version: "a".into(),
            measured_at: now,
            avg_ms: 1.0,
            p99_ms: 2.0,
        };
        assert!(
            Report::new(
                "b",
                "x",
                None,
                measured(2.5, 0),
                Some(tiny),
                Some(gates()),
                now
            )
            .success
        );
    }

    #[test]
    fn a_rollback_or_failed_samples_fail_the_release_and_say_why() {
        let now = jiff::Timestamp::now();
        let record = DeploymentRecord {
            version: "0.1.0".into(),
            host: "aws".into(),
            environment: "moose".into(),
            started: now,
            finished: now,
            components: vec![],
            deployments: vec![DeploymentView {
                id: "d-1".into(),
                group: "ChatServiceDeploymentGroup".into(),
                status: "Stopped".into(),
                created: Some(now),
                completed: Some(now),
                rolled_back: true,
                reason: Some("alarm ChatServiceNewVersionErrors".into()),
            }],
            rollback: None,
            backup: None,
        };
        let r = Report::new(
            "0.1.0",
            "x",
            Some(record),
            measured(10.0, 2),
            None,
            Some(gates()),
            now,
        );
        assert!(r.rolled_back);
        assert!(
            r.rollback_reason
                .as_deref()
                .unwrap()
                .contains("ChatServiceNewVersionErrors")
        );
        assert!((r.error_rate - 0.02).abs() < 1e-9);
        assert!(!r.success);
        let md = r.to_markdown();
        assert!(
            md.contains("**Rollback Required**: Yes — ChatServiceDeploymentGroup: alarm"),
            "{md}"
        );
        assert!(md.contains("2.00 %"), "{md}");
        // Without gates a release is not a success.
        assert!(!Report::new("0.1.0", "x", None, measured(10.0, 0), None, None, now).success);
    }
}
