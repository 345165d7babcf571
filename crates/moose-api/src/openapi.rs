//! The OpenAPI document of the API, generated from the route table (`table::ROUTES`), whose
//! rows carry each route's rule, handler and description. `moose openapi` prints it;
//! `docs/openapi.json` is a committed copy that a test keeps in step, and a schemathesis run in
//! the test suite checks the running server's answers against it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::table::{ROUTES, components};
use moose_auth::Rule;

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

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The responses of one route: its success, and every error the edge and the handler answer.
fn responses(route: &crate::table::RouteSpec) -> Map<String, Value> {
    let doc = &route.doc;
    let mut out = Map::new();
    let success = match doc.response {
        None => json!({"description": "done"}),
        Some(schema) => {
            let mut content = Map::new();
            content.insert("application/json".into(), json!({"schema": schema()}));
            if doc.csv {
                content.insert("text/csv".into(), json!({"schema": {"type": "string"}}));
            }
            if doc.stream {
                content.insert(
                    "text/event-stream".into(),
                    json!({"schema": {"type": "string"}}),
                );
            }
            json!({"description": "success", "content": content})
        }
    };
    out.insert(doc.ok.to_string(), success);
    out.insert(
        "400".into(),
        error_response("bad input; the message names the parameter or field"),
    );
    out.insert(
        "401".into(),
        error_response("no valid bearer token (sign-in and refresh: invalid credentials)"),
    );
    // Refusals of the handlers' own rules (API keys have no profile, read-only keys, …).
    out.insert("403".into(), error_response("not allowed"));
    out.insert(
        "404".into(),
        error_response("not found, or not visible to the caller"),
    );
    out.insert(
        "409".into(),
        error_response("the resource changed concurrently, or already exists"),
    );
    if doc.body.is_some() {
        out.insert(
            "413".into(),
            error_response("the body is larger than the configured limit"),
        );
        out.insert(
            "415".into(),
            error_response("the body is not `application/json`"),
        );
    }
    if route.path == "/api/auth/login" {
        out.insert(
            "429".into(),
            error_response("too many sign-in attempts; see Retry-After"),
        );
    }
    out.insert(
        "503".into(),
        error_response(
            "a dependency is unavailable, the request timed out, or the feature is not configured",
        ),
    );
    out
}

/// The document.
pub fn openapi() -> Value {
    // Plain BTreeMaps: the document's shape must not depend on serde_json's map features.
    let mut paths: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let health = json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "version": {"type": "string"}}});
    paths.insert("/health".into(), BTreeMap::from([("get".to_owned(), json!({"summary": "Liveness (and readiness with deep=true)", "parameters": [{"name": "deep", "in": "query", "required": false, "schema": {"type": "boolean"}}], "responses": {"200": {"description": "healthy", "content": {"application/json": {"schema": health}}}, "400": error_response("a malformed query"), "503": error_response("a dependency is failing (deep only)")}}))]));
    paths.insert(
        "/health/ready".into(),
        BTreeMap::from([("get".to_owned(), json!({"summary": "Readiness: checks every dependency", "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": health}}}, "503": {"description": "a dependency is failing", "content": {"application/json": {"schema": health}}}}}))]),
    );
    for route in ROUTES {
        let doc = &route.doc;
        let mut op = json!({
            "summary": doc.summary,
            "description": format!("Access: {}.", rule_text(route.rule)),
            "operationId": format!("{} {}", route.method, route.path),
            "parameters": (doc.params)(),
            "responses": responses(route),
        });
        if route.rule != Rule::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(body) = doc.body {
            op["requestBody"] = json!({"required": !doc.body_optional, "content": {"application/json": {"schema": body()}}});
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
            "schemas": components(),
        },
    })
}
