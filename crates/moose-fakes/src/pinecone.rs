//! A fake Pinecone: the control plane's `GET /indexes/{name}` and a legacy vector index's data
//! plane, in memory, with Pinecone's checks (headers, dimension, batch and metadata limits) and
//! its error shapes (`{"error":{"code","message"},"status"}` on the control plane, `rpcStatus`
//! `{"code","message","details"}` on the data plane).
//!
//! One deviation for loopback use: the describe call returns the host with an `http://` scheme
//! (Pinecone returns a bare host served over HTTPS).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A legacy dense vector index of this dimension.
    Vectors(usize),
    /// A 2026-07 document index (no dimension, no vector host in the 2025-10 describe shape).
    Documents,
}

#[derive(Debug, Default)]
struct Inner {
    /// namespace → id → (values, metadata)
    vectors: BTreeMap<String, BTreeMap<String, (Vec<f64>, Value)>>,
    queries: usize,
    fail_next: Vec<u16>,
}

#[derive(Debug, Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    key: String,
    name: String,
    kind: Kind,
    host: String,
}

/// The running fake.
#[derive(Debug, Clone)]
pub struct FakePinecone {
    shared: Shared,
    url: String,
}

/// Limits Pinecone enforces.
const MAX_UPSERT: usize = 1000;
const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;
const MAX_METADATA_BYTES: usize = 40 * 1024;

impl FakePinecone {
    /// Starts a fake index `name` of `kind` requiring `key`.
    pub async fn start(key: &str, name: &str, kind: Kind) -> Self {
        let (listener, addr) = crate::bind().await;
        let url = format!("http://{addr}");
        let shared = Shared {
            inner: Arc::default(),
            key: key.to_owned(),
            name: name.to_owned(),
            kind,
            host: url.clone(),
        };
        let app = Router::new()
            .route("/indexes/{name}", get(describe))
            .route("/vectors/upsert", post(upsert))
            .route("/query", post(query))
            .route("/vectors/delete", post(delete))
            .route("/describe_index_stats", post(stats))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, url }
    }

    /// `http://127.0.0.1:<port>`: both the control plane and the index's host.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Vectors in `namespace`.
    pub fn count(&self, namespace: &str) -> usize {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .vectors
            .get(namespace)
            .map_or(0, BTreeMap::len)
    }

    /// Queries answered.
    pub fn queries(&self) -> usize {
        self.shared.inner.lock().expect("the fake's lock").queries
    }

    /// The next data-plane requests fail with these statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .fail_next
            .extend(statuses);
    }
}

fn control_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}, "status": status.as_u16()})),
    )
        .into_response()
}

fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "details": []})),
    )
        .into_response()
}

/// The data plane's header checks and injected failures.
fn gate(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(shared.key.as_str()) {
        return Some(rpc_error(StatusCode::UNAUTHORIZED, 16, "Invalid API key"));
    }
    if headers.get("x-pinecone-api-version").is_none() {
        return Some(rpc_error(
            StatusCode::BAD_REQUEST,
            3,
            "X-Pinecone-Api-Version is required",
        ));
    }
    let mut inner = shared.inner.lock().expect("the fake's lock");
    if !inner.fail_next.is_empty() {
        let status = inner.fail_next.remove(0);
        let code = if status == 429 { 8 } else { 14 };
        let s = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Some(rpc_error(s, code, "injected failure"));
    }
    if shared.kind == Kind::Documents {
        return Some(rpc_error(
            StatusCode::BAD_REQUEST,
            9,
            "this index uses the Documents API",
        ));
    }
    None
}

async fn describe(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(shared.key.as_str()) {
        return control_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Invalid API Key",
        );
    }
    if name != shared.name {
        return control_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Resource {name} not found"),
        );
    }
    match shared.kind {
        Kind::Vectors(dim) => Json(json!({
            "name": name, "dimension": dim, "metric": "cosine", "host": shared.host,
            "vector_type": "dense", "deletion_protection": "disabled", "tags": null, "embed": null,
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            "status": {"ready": true, "state": "Ready"},
        }))
        .into_response(),
        Kind::Documents => Json(json!({
            "name": name, "deployment": {"cloud": "aws", "region": "us-east-1"},
            "schema": {"fields": {"text": {"type": "string"}}},
            "status": {"ready": true, "state": "Ready"},
        }))
        .into_response(),
    }
}

fn namespace(body: &Value) -> String {
    body["namespace"].as_str().unwrap_or_default().to_owned()
}

async fn upsert(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&shared, &headers) {
        return r;
    }
    if body.len() > MAX_REQUEST_BYTES {
        return rpc_error(StatusCode::PAYLOAD_TOO_LARGE, 3, "request size exceeds 2MB");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return rpc_error(StatusCode::BAD_REQUEST, 3, "invalid JSON");
    };
    let Kind::Vectors(dim) = shared.kind else {
        return rpc_error(StatusCode::BAD_REQUEST, 9, "not a vector index");
    };
    let vectors = body["vectors"].as_array().cloned().unwrap_or_default();
    if vectors.is_empty() || vectors.len() > MAX_UPSERT {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            3,
            "upsert 1 to 1000 vectors per request",
        );
    }
    let mut rows = Vec::new();
    for v in &vectors {
        let Some(id) = v["id"].as_str().filter(|i| !i.is_empty() && i.len() <= 512) else {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                3,
                "each vector needs an id of 1-512 characters",
            );
        };
        let values: Vec<f64> = v["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        if values.len() != dim {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                3,
                &format!(
                    "Vector dimension {} does not match the dimension of the index {dim}",
                    values.len()
                ),
            );
        }
        let metadata = v["metadata"].clone();
        if metadata.to_string().len() > MAX_METADATA_BYTES {
            return rpc_error(StatusCode::BAD_REQUEST, 3, "metadata size exceeds 40KB");
        }
        if metadata
            .as_object()
            .is_some_and(|m| m.values().any(Value::is_null))
        {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                3,
                "metadata values must not be null",
            );
        }
        rows.push((id.to_owned(), values, metadata));
    }
    let ns = namespace(&body);
    let n = rows.len();
    let mut inner = shared.inner.lock().expect("the fake's lock");
    let space = inner.vectors.entry(ns).or_default();
    for (id, values, metadata) in rows {
        space.insert(id, (values, metadata));
    }
    Json(json!({"upsertedCount": n})).into_response()
}

/// Pinecone's metadata filter: `$eq`, `$ne`, `$in`, `$nin`, `$and`, `$or`, and the shorthand
/// `{"field": value}`.
fn matches(filter: &Value, meta: &Value) -> bool {
    let Some(f) = filter.as_object() else {
        return true;
    };
    f.iter().all(|(k, cond)| match k.as_str() {
        "$and" => cond
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| matches(c, meta)),
        "$or" => cond
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| matches(c, meta)),
        field => {
            let v = &meta[field];
            match cond.as_object() {
                Some(ops) => ops.iter().all(|(op, arg)| match op.as_str() {
                    "$eq" => v == arg,
                    "$ne" => v != arg,
                    "$in" => arg.as_array().is_some_and(|a| a.contains(v)),
                    "$nin" => arg.as_array().is_some_and(|a| !a.contains(v)),
                    _ => false,
                }),
                None => v == cond,
            }
        }
    })
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

async fn query(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gate(&shared, &headers) {
        return r;
    }
    let Kind::Vectors(dim) = shared.kind else {
        return rpc_error(StatusCode::BAD_REQUEST, 9, "not a vector index");
    };
    let top_k = body["topK"].as_u64().unwrap_or(0);
    if !(1..=10_000).contains(&top_k) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            3,
            "topK must be between 1 and 10000",
        );
    }
    let q: Vec<f64> = body["vector"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    if q.len() != dim {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            3,
            &format!(
                "Query vector dimension {} does not match the dimension of the index {dim}",
                q.len()
            ),
        );
    }
    let include_meta = body["includeMetadata"].as_bool().unwrap_or(false);
    let mut inner = shared.inner.lock().expect("the fake's lock");
    inner.queries += 1;
    let ns = namespace(&body);
    let mut scored: Vec<(f64, &String, &Value)> = inner
        .vectors
        .get(&ns)
        .into_iter()
        .flatten()
        .filter(|(_, (_, m))| matches(&body["filter"], m))
        .map(|(id, (v, m))| (cosine(&q, v), id, m))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let matches: Vec<Value> = scored
        .into_iter()
        .take(usize::try_from(top_k).unwrap_or(usize::MAX))
        .map(|(s, id, m)| {
            if include_meta {
                json!({"id": id, "score": s, "values": [], "metadata": m})
            } else {
                json!({"id": id, "score": s, "values": []})
            }
        })
        .collect();
    Json(json!({"matches": matches, "namespace": ns, "usage": {"readUnits": 1}})).into_response()
}

async fn delete(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gate(&shared, &headers) {
        return r;
    }
    let ns = namespace(&body);
    let mut inner = shared.inner.lock().expect("the fake's lock");
    let space = inner.vectors.entry(ns).or_default();
    if body["deleteAll"].as_bool() == Some(true) {
        space.clear();
    } else if let Some(ids) = body["ids"].as_array() {
        if ids.len() > 1000 {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                3,
                "delete at most 1000 ids per request",
            );
        }
        for id in ids.iter().filter_map(Value::as_str) {
            space.remove(id);
        }
    } else if body["filter"].is_object() {
        space.retain(|_, (_, m)| !matches(&body["filter"], m));
    }
    Json(json!({})).into_response()
}

async fn stats(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&shared, &headers) {
        return r;
    }
    let Kind::Vectors(dim) = shared.kind else {
        return rpc_error(StatusCode::BAD_REQUEST, 9, "not a vector index");
    };
    let inner = shared.inner.lock().expect("the fake's lock");
    let namespaces: serde_json::Map<String, Value> = inner
        .vectors
        .iter()
        .map(|(ns, v)| (ns.clone(), json!({"vectorCount": v.len()})))
        .collect();
    let total: usize = inner.vectors.values().map(BTreeMap::len).sum();
    Json(json!({"namespaces": namespaces, "dimension": dim, "indexFullness": 0.0, "totalVectorCount": total, "metric": "cosine", "vectorType": "dense"}))
        .into_response()
}
