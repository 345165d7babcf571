//! Process-wide metrics, recorded by every component and read by the host.
//!
//! Counters, gauges and histograms are named with Moose's `moose_` prefix and carry labels
//! (`route`, `status`, `kind`, …). `moose serve` renders them as Prometheus text on `GET /metrics`
//! ([`render_prometheus`]); a Lambda function prints the changes of each invocation as one
//! CloudWatch Embedded Metric Format line ([`take_emf`]). One small registry behind a mutex:
//! recording is a map update (tens of nanoseconds), far below a request's cost.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde_json::{Map, Value, json};

/// Upper bounds of the latency histograms' buckets, seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(String, String)>;

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
    /// Values since the last EMF flush (at most 100 are kept, as EMF allows).
    recent: Vec<f64>,
}

#[derive(Debug, Default)]
struct Registry {
    counters: BTreeMap<(String, Labels), u64>,
    gauges: BTreeMap<(String, Labels), f64>,
    histograms: BTreeMap<(String, Labels), Histogram>,
    help: BTreeMap<String, &'static str>,
    /// Counter values at the last EMF flush.
    flushed: BTreeMap<(String, Labels), u64>,
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns recording on or off for the whole process (on by default). Only for measuring what
/// recording costs: with it off, nothing is counted.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

fn registry() -> MutexGuard<'static, Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn labels(l: &[(&str, &str)]) -> Labels {
    let mut v: Labels = l
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

/// Adds `n` to a counter.
pub fn count(name: &str, help: &'static str, l: &[(&str, &str)], n: u64) {
    if !enabled() {
        return;
    }
    let mut r = registry();
    r.help.entry(name.to_owned()).or_insert(help);
    *r.counters.entry((name.to_owned(), labels(l))).or_default() += n;
}

/// Sets a gauge.
pub fn gauge(name: &str, help: &'static str, l: &[(&str, &str)], v: f64) {
    if !enabled() {
        return;
    }
    let mut r = registry();
    r.help.entry(name.to_owned()).or_insert(help);
    r.gauges.insert((name.to_owned(), labels(l)), v);
}

/// Records a duration (or any value) in seconds.
pub fn observe(name: &str, help: &'static str, l: &[(&str, &str)], seconds: f64) {
    if !enabled() {
        return;
    }
    let mut r = registry();
    r.help.entry(name.to_owned()).or_insert(help);
    let h = r
        .histograms
        .entry((name.to_owned(), labels(l)))
        .or_default();
    let slot = LATENCY_BUCKETS
        .iter()
        .position(|b| seconds <= *b)
        .unwrap_or(LATENCY_BUCKETS.len());
    h.counts[slot] += 1;
    h.sum += seconds;
    h.count += 1;
    if h.recent.len() < 100 {
        h.recent.push(seconds);
    }
}

/// The value of a counter (tests and reports).
pub fn counter_value(name: &str, l: &[(&str, &str)]) -> u64 {
    registry()
        .counters
        .get(&(name.to_owned(), labels(l)))
        .copied()
        .unwrap_or(0)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_text(l: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Everything recorded, in the Prometheus text exposition format (version 0.0.4).
pub fn render_prometheus() -> String {
    let r = registry();
    let mut out = String::new();
    let header = |out: &mut String, name: &str, kind: &str, seen: &mut Option<String>| {
        if seen.as_deref() != Some(name) {
            let help = r.help.get(name).copied().unwrap_or("");
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            *seen = Some(name.to_owned());
        }
    };
    let mut seen = None;
    for ((name, l), v) in &r.counters {
        header(&mut out, name, "counter", &mut seen);
        let _ = writeln!(out, "{name}{} {v}", label_text(l, None));
    }
    for ((name, l), v) in &r.gauges {
        header(&mut out, name, "gauge", &mut seen);
        let _ = writeln!(out, "{name}{} {v}", label_text(l, None));
    }
    for ((name, l), h) in &r.histograms {
        header(&mut out, name, "histogram", &mut seen);
        let mut cumulative = 0;
        for (i, c) in h.counts.iter().enumerate() {
            cumulative += c;
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                label_text(l, Some(("le", le)))
            );
        }
        let _ = writeln!(out, "{name}_sum{} {}", label_text(l, None), h.sum);
        let _ = writeln!(out, "{name}_count{} {}", label_text(l, None), h.count);
    }
    out
}

/// CloudWatch metric name of a Moose metric: `moose_http_requests_total` → `HttpRequestsTotal`.
fn cloudwatch_name(name: &str, l: &Labels) -> String {
    let base: String = name
        .trim_start_matches("moose_")
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    // Labels other than the dimensions become part of the name (`…Status500`), so that one
    // document never needs more than the `Function` and `Route` dimensions.
    let extra: String = l
        .iter()
        .filter(|(k, _)| k != "route")
        .map(|(_, v)| {
            v.split(|c: char| !c.is_alphanumeric())
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| {
                            f.to_uppercase()
                                .chain(c.flat_map(char::to_lowercase))
                                .collect::<String>()
                        })
                        .unwrap_or_default()
                })
                .collect::<String>()
        })
        .collect();
    format!("{base}{extra}")
}

/// The changes since the last call as CloudWatch Embedded Metric Format documents, one JSON line
/// each (one per route, plus one without a route), with the `Function` dimension; `None` when
/// nothing changed. Counters are reported as their increase, histograms as their recent values.
pub fn take_emf(function: &str, timestamp_ms: i64) -> Option<String> {
    let mut r = registry();
    let mut docs: BTreeMap<Option<String>, Map<String, Value>> = BTreeMap::new();
    let mut units: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    let route_of = |l: &Labels| l.iter().find(|(k, _)| k == "route").map(|(_, v)| v.clone());
    let counters: Vec<((String, Labels), u64)> =
        r.counters.iter().map(|(k, v)| (k.clone(), *v)).collect();
    for ((name, l), v) in counters {
        let before = r.flushed.insert((name.clone(), l.clone()), v).unwrap_or(0);
        if v > before {
            let route = route_of(&l);
            let metric = cloudwatch_name(&name, &l);
            docs.entry(route.clone())
                .or_default()
                .insert(metric.clone(), json!(v - before));
            units
                .entry(route)
                .or_default()
                .push(json!({"Name": metric, "Unit": "Count"}));
        }
    }
    for ((name, l), h) in &mut r.histograms {
        if h.recent.is_empty() {
            continue;
        }
        let route = route_of(l);
        let metric = cloudwatch_name(name, l).replace("Seconds", "Milliseconds");
        let values: Vec<f64> = h.recent.drain(..).map(|s| s * 1000.0).collect();
        docs.entry(route.clone())
            .or_default()
            .insert(metric.clone(), json!(values));
        units
            .entry(route)
            .or_default()
            .push(json!({"Name": metric, "Unit": "Milliseconds"}));
    }
    for ((name, l), v) in &r.gauges {
        let route = route_of(l);
        let metric = cloudwatch_name(name, l);
        docs.entry(route.clone())
            .or_default()
            .insert(metric.clone(), json!(v));
        units
            .entry(route)
            .or_default()
            .push(json!({"Name": metric, "Unit": "None"}));
    }
    if docs.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for (route, mut doc) in docs {
        let metrics = units.remove(&route).unwrap_or_default();
        for chunk in metrics.chunks(100) {
            let dims = if route.is_some() {
                json!([["Function"], ["Function", "Route"]])
            } else {
                json!([["Function"]])
            };
            let mut line = Map::new();
            line.insert(
                "_aws".into(),
                json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": "Moose", "Dimensions": dims, "Metrics": chunk}]}),
            );
            line.insert("Function".into(), json!(function));
            if let Some(route) = &route {
                line.insert("Route".into(), json!(route));
            }
            for m in chunk {
                let name = m["Name"].as_str().unwrap_or_default();
                if let Some(v) = doc.remove(name) {
                    line.insert(name.to_owned(), v);
                }
            }
            lines.push(Value::Object(line).to_string());
        }
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_as_prometheus_and_emf() {
        count(
            "moose_test_requests_total",
            "Requests.",
            &[("route", "/api/x"), ("status", "200")],
            2,
        );
        observe(
            "moose_test_duration_seconds",
            "Latency.",
            &[("route", "/api/x")],
            0.003,
        );
        gauge("moose_test_freshness_seconds", "Age.", &[], 42.0);
        let text = render_prometheus();
        assert!(text.contains("# TYPE moose_test_requests_total counter"));
        assert!(text.contains("moose_test_requests_total{route=\"/api/x\",status=\"200\"} 2"));
        assert!(
            text.contains("moose_test_duration_seconds_bucket{route=\"/api/x\",le=\"0.005\"} 1")
        );
        assert!(text.contains("moose_test_duration_seconds_count{route=\"/api/x\"} 1"));
        assert!(text.contains("moose_test_freshness_seconds 42"));
        let emf = take_emf("solar-data-service", 1_795_764_969_845).unwrap();
        let docs: Vec<Value> = emf
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let routed = docs.iter().find(|d| d["Route"] == "/api/x").unwrap();
        assert_eq!(routed["Function"], "solar-data-service");
        assert_eq!(routed["TestRequestsTotal200"], 2);
        assert_eq!(routed["TestDurationMilliseconds"], json!([3.0]));
        assert_eq!(routed["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Moose");
        // Every metric named in the directive is a root member, as EMF requires.
        for d in &docs {
            for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                assert!(d.get(m["Name"].as_str().unwrap()).is_some(), "{d}");
            }
        }
        // The next flush reports only what changed since.
        count(
            "moose_test_requests_total",
            "Requests.",
            &[("route", "/api/x"), ("status", "200")],
            1,
        );
        let emf = take_emf("solar-data-service", 1).unwrap();
        assert!(emf.contains("\"TestRequestsTotal200\":1"), "{emf}");
    }
}
