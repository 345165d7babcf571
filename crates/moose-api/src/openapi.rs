//! The OpenAPI document of the API, generated from the route table (`access::ROUTES`) and the
//! descriptions below. `moose openapi` prints it; `docs/openapi.json` is a committed copy that a
//! test keeps in step.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::access::ROUTES;
use moose_auth::Rule;

/// A parameter: (name, in, required, type, description).
type Param = (&'static str, &'static str, bool, &'static str, &'static str);

const SYSTEM: Param = ("system", "path", true, "string", "Solar.web PV system id");
const USER: Param = ("user", "path", true, "string", "user id");
const INCIDENT: Param = (
    "incident",
    "path",
    true,
    "string",
    "incident id, <kind>-<opened ms>-<system>",
);
const INSTANT_RANGE: [Param; 2] = [
    (
        "from",
        "query",
        false,
        "string",
        "opened at or after this RFC 3339 instant",
    ),
    (
        "to",
        "query",
        false,
        "string",
        "opened before this RFC 3339 instant",
    ),
];
const FROM_TO: [Param; 2] = [
    (
        "from",
        "query",
        false,
        "string",
        "site-local date (2026-06-01) or instant (2026-06-01T10:00:00Z)",
    ),
    ("to", "query", false, "string", "site-local date or instant"),
];

/// Summary, parameters and whether the route takes a JSON body.
fn describe(method: &str, path: &str) -> (&'static str, Vec<Param>, bool) {
    match (method, path) {
        ("POST", "/api/auth/login") => (
            "Sign in with e-mail and password; returns access and refresh tokens",
            vec![],
            true,
        ),
        ("POST", "/api/auth/refresh") => (
            "Exchange a refresh token for new tokens (rotating it)",
            vec![],
            true,
        ),
        ("POST", "/api/auth/logout") => ("End the caller's session", vec![], false),
        ("GET", "/api/users/me") => ("The caller's profile", vec![], false),
        ("PATCH", "/api/users/me") => (
            "Change the caller's name, time zone, language or contact points",
            vec![],
            true,
        ),
        ("GET", "/api/users/me/activity") => (
            "The caller's activity log, newest first",
            vec![("limit", "query", false, "integer", "1-1000, default 50")],
            false,
        ),
        ("GET", "/api/users/me/systems") => ("The systems the caller may see", vec![], false),
        ("GET", "/api/users") => ("Every user (administrators)", vec![], false),
        ("POST", "/api/users") => (
            "Invite a user with a generated initial password (administrators)",
            vec![],
            true,
        ),
        ("PATCH", "/api/users/{user}") => (
            "Change a user's role or disable them (administrators)",
            vec![USER],
            true,
        ),
        ("GET", "/api/users/{user}/activity") => (
            "A user's activity log (administrators)",
            vec![
                USER,
                ("limit", "query", false, "integer", "1-1000, default 50"),
            ],
            false,
        ),
        ("GET", "/api/systems") => (
            "The systems the caller may see, a page at a time",
            vec![
                ("limit", "query", false, "integer", "1-1000, default 100"),
                (
                    "cursor",
                    "query",
                    false,
                    "string",
                    "next_cursor of the previous page",
                ),
            ],
            false,
        ),
        ("GET", "/api/systems/{system}") => (
            "A system: metadata, devices, last data time, today's energy",
            vec![SYSTEM],
            false,
        ),
        ("PATCH", "/api/systems/{system}") => (
            "Set the site's position (Solar.web has none): {latitude, longitude}",
            vec![SYSTEM],
            true,
        ),
        ("GET", "/api/systems/{system}/production") => (
            "Production time series in Wh; gaps are null",
            vec![
                SYSTEM,
                FROM_TO[0],
                FROM_TO[1],
                (
                    "resolution",
                    "query",
                    false,
                    "string",
                    "5m, 15m, 1h (default), 1d or 1mo",
                ),
                (
                    "format",
                    "query",
                    false,
                    "string",
                    "json (default) or csv; Accept: text/csv also works",
                ),
            ],
            false,
        ),
        ("GET", "/api/systems/{system}/energy") => (
            "Energy per local day, month or year, in Wh",
            vec![
                SYSTEM,
                (
                    "period",
                    "query",
                    false,
                    "string",
                    "day (default), month or year",
                ),
                FROM_TO[0],
                FROM_TO[1],
                ("format", "query", false, "string", "json or csv"),
            ],
            false,
        ),
        ("GET", "/api/systems/{system}/kpis") => (
            "Specific yield, expected clear-sky energy, performance index, completeness, self-consumption and self-sufficiency",
            vec![SYSTEM, FROM_TO[0], FROM_TO[1]],
            false,
        ),
        ("GET", "/api/systems/{system}/members") => ("Members of a system", vec![SYSTEM], false),
        ("PUT", "/api/systems/{system}/members/{user}") => {
            ("Grant or change a membership", vec![SYSTEM, USER], true)
        }
        ("DELETE", "/api/systems/{system}/members/{user}") => {
            ("Revoke a membership", vec![SYSTEM, USER], false)
        }
        ("GET", "/api/api-keys") => (
            "Every API key, without secrets (administrators)",
            vec![],
            false,
        ),
        ("POST", "/api/api-keys") => (
            "Create an API key; the key is shown once (administrators)",
            vec![],
            true,
        ),
        ("DELETE", "/api/api-keys/{key}") => (
            "Revoke an API key (administrators)",
            vec![("key", "path", true, "string", "API key id")],
            false,
        ),
        ("POST", "/api/chat") => (
            "Ask the O&M assistant (old payload {username, message, user_id})",
            vec![],
            true,
        ),
        ("GET", "/api/incidents") => (
            "Incidents the caller may see, newest first (without evidence); platform incidents are visible to everyone",
            vec![
                (
                    "system",
                    "query",
                    false,
                    "string",
                    "only this system's incidents",
                ),
                (
                    "kind",
                    "query",
                    false,
                    "string",
                    "no_data, device_error, zero_production, underperformance or upstream_outage",
                ),
                ("state", "query", false, "string", "open or resolved"),
                INSTANT_RANGE[0],
                INSTANT_RANGE[1],
                ("limit", "query", false, "integer", "1-500, default 100"),
                (
                    "before",
                    "query",
                    false,
                    "string",
                    "next of the previous page (an incident id)",
                ),
            ],
            false,
        ),
        ("GET", "/api/incidents/{incident}") => (
            "One incident with its evidence (404 unless the caller may see its system)",
            vec![INCIDENT],
            false,
        ),
        ("POST", "/api/incidents/{incident}/ack") => (
            "Acknowledge an incident, stopping reminders and escalation; optional body {note} (owners, installers and technicians of the system, fleet managers; idempotent)",
            vec![INCIDENT],
            false,
        ),
        ("GET", "/api/systems/{system}/status") => (
            "The system's STATUS item with its open incidents",
            vec![SYSTEM],
            false,
        ),
        ("POST", "/api/systems/{system}/snooze") => (
            "Hold notifications until {until} (at most 30 days ahead; null lifts the snooze)",
            vec![SYSTEM],
            true,
        ),
        ("POST", "/api/systems/{system}/maintenance") => (
            "Plan a maintenance window {from, to, reason} of at most 31 days",
            vec![SYSTEM],
            true,
        ),
        ("DELETE", "/api/systems/{system}/maintenance") => (
            "Cancel current and future maintenance windows",
            vec![SYSTEM],
            false,
        ),
        ("PUT", "/api/systems/{system}/grace") => (
            "Set the no-data grace period {minutes} (5-240)",
            vec![SYSTEM],
            true,
        ),
        ("GET", "/api/systems/{system}/escalation") => {
            ("The system's escalation policy", vec![SYSTEM], false)
        }
        ("PUT", "/api/systems/{system}/escalation") => (
            "Replace the escalation policy {escalate_after_mins, remind_every_mins, max_reminders}",
            vec![SYSTEM],
            true,
        ),
        ("GET", "/api/notifications") => (
            "The caller's in-app notifications, newest first",
            vec![
                ("unread", "query", false, "boolean", "only unread ones"),
                ("limit", "query", false, "integer", "1-500, default 50"),
            ],
            false,
        ),
        ("POST", "/api/notifications/{notification}/read") => (
            "Mark one of the caller's notifications read",
            vec![("notification", "path", true, "string", "notification id")],
            false,
        ),
        ("GET", "/api/notifications/stats") => (
            "Notification delivery per UTC day by state, delivery rates and the pending backlog",
            vec![("days", "query", false, "integer", "1-31, default 7")],
            false,
        ),
        ("GET", "/api/users/me/notification-settings") => (
            "The caller's notification settings (whether a webhook secret is set, never the secret)",
            vec![],
            false,
        ),
        ("PUT", "/api/users/me/notification-settings") => (
            "Change notification settings; a new webhook signing secret is shown once",
            vec![],
            true,
        ),
        (m, p) => panic!("route {m} {p} has no OpenAPI description in openapi.rs"),
    }
}

fn rule_text(rule: Rule) -> String {
    match rule {
        Rule::Public => "no token needed".into(),
        Rule::Authenticated => "any signed-in caller".into(),
        Rule::OrgRole(r) => format!("organisation role {r} or higher"),
        Rule::SystemRead => "callers who may see the system (404 otherwise)".into(),
        Rule::SystemManage => {
            "fleet managers, administrators, and the system's owners and installers".into()
        }
    }
}

/// The document.
pub fn openapi() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    // Plain BTreeMaps: the document's shape must not depend on serde_json's map features.
    let mut paths: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    paths.insert("/health".into(), BTreeMap::from([("get".to_owned(), json!({"summary": "Liveness (and readiness with deep=true)", "parameters": [{"name": "deep", "in": "query", "required": false, "schema": {"type": "boolean"}}], "responses": {"200": {"description": "healthy"}, "503": {"description": "a dependency is failing (deep only)"}}}))]));
    paths.insert(
        "/health/ready".into(),
        BTreeMap::from([("get".to_owned(), json!({"summary": "Readiness: checks every dependency", "responses": {"200": {"description": "ready"}, "503": {"description": "a dependency is failing"}}}))]),
    );
    for route in ROUTES {
        let (summary, params, body) = describe(route.method, route.path);
        let parameters: Vec<Value> = params
            .iter()
            .map(|(name, loc, required, ty, doc)| json!({"name": name, "in": loc, "required": required, "description": doc, "schema": {"type": ty}}))
            .collect();
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "success"}));
        responses.insert("400".into(), json!({"description": "bad input; the message names the parameter or field", "content": {"application/json": {"schema": error}}}));
        if route.rule != Rule::Public {
            responses.insert("401".into(), json!({"description": "no valid bearer token", "content": {"application/json": {"schema": error}}}));
            responses.insert("403".into(), json!({"description": "not allowed", "content": {"application/json": {"schema": error}}}));
        }
        if path_has_param(route.path) {
            responses.insert("404".into(), json!({"description": "not found, or not visible to the caller", "content": {"application/json": {"schema": error}}}));
        }
        let mut op = json!({
            "summary": summary,
            "description": format!("Access: {}.", rule_text(route.rule)),
            "parameters": parameters,
            "responses": responses,
        });
        if route.rule != Rule::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        if body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        paths
            .entry(route.path.to_owned())
            .or_default()
            .insert(route.method.to_ascii_lowercase(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Moose API", "version": env!("CARGO_PKG_VERSION"), "description": "Monitoring and O&M for fleets of Fronius PV systems. Generated from the route table; do not edit by hand."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a Moose access token, a Supabase access token, or an API key (mk_…)"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
        },
    })
}

fn path_has_param(path: &str) -> bool {
    path.contains('{')
}
