//! A fake OpenAI-compatible server.
//!
//! Replies come from a queue the test fills ([`Reply`]), or, when the queue is empty, from a
//! scripted model (a function of the request) — the eval uses that to play a model that calls
//! tools and writes answers from their results. Requests are checked as OpenAI checks them: the
//! bearer key, a model name, tool definitions whose parameters are JSON Schema objects, and every
//! `tool_calls[].id` of an assistant message answered by a `tool` message.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// How streamed tool calls are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// OpenAI: id and name first, arguments in pieces, `finish_reason: "tool_calls"`, usage in a
    /// last chunk with no choices.
    OpenAi,
    /// Ollama: each call whole in one chunk, every call at `index: 0`, arguments as an object,
    /// `finish_reason: "stop"`, no usage, no `id`/`object`/`created` on chunks.
    Ollama,
}

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A non-streamed JSON body with status 200 (whatever the request asked).
    Json(Value),
    /// Server-sent events: these chunks, then `[DONE]` unless `cut`.
    Stream {
        /// The chunks' JSON.
        chunks: Vec<Value>,
        /// End the body before `[DONE]`.
        cut: bool,
    },
    /// An error status with an OpenAI error body and headers.
    Error {
        /// HTTP status.
        status: u16,
        /// The body.
        body: Value,
        /// Extra headers (`retry-after-ms`, …).
        headers: Vec<(String, String)>,
    },
    /// Waits this long before answering 200 with an empty stream (a slow server).
    Slow(Duration),
}

impl Reply {
    /// A streamed text answer, in a few pieces.
    pub fn text(content: &str) -> Self {
        let mut chunks = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        let words: Vec<&str> = content.split_inclusive(' ').collect();
        for piece in words.chunks(4) {
            chunks.push(chunk(json!({"content": piece.concat()}), None));
        }
        chunks.push(chunk(json!({}), Some("stop")));
        chunks.push(usage_chunk(120, tokens(content)));
        Self::Stream { chunks, cut: false }
    }

    /// Streamed tool calls `(name, arguments JSON text)` in `style`.
    pub fn tool_calls(calls: &[(&str, &str)], style: Style) -> Self {
        let mut chunks = Vec::new();
        match style {
            Style::OpenAi => {
                for (i, (name, args)) in calls.iter().enumerate() {
                    chunks.push(chunk(
                        json!({"role": "assistant", "content": null, "tool_calls": [
                            {"index": i, "id": format!("call_{i}_{name}"), "type": "function", "function": {"name": name, "arguments": ""}}]}),
                        None,
                    ));
                    let mid = args.len() / 2;
                    let mid = (0..=mid)
                        .rev()
                        .find(|m| args.is_char_boundary(*m))
                        .unwrap_or(0);
                    for part in [&args[..mid], &args[mid..]] {
                        chunks.push(chunk(
                            json!({"tool_calls": [{"index": i, "function": {"arguments": part}}]}),
                            None,
                        ));
                    }
                }
                chunks.push(chunk(json!({}), Some("tool_calls")));
                chunks.push(usage_chunk(150, 20 * calls.len() as u64));
            }
            Style::Ollama => {
                for (i, (name, args)) in calls.iter().enumerate() {
                    let arguments: Value = serde_json::from_str(args)
                        .unwrap_or_else(|_| Value::String((*args).to_owned()));
                    chunks.push(json!({"model": "llama3.1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "tool_calls": [
                        {"index": 0, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": arguments}}]}, "finish_reason": null}]}));
                }
                chunks.push(json!({"model": "llama3.1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
            }
        }
        Self::Stream { chunks, cut: false }
    }

    /// A 429 that asks to retry after `ms` milliseconds.
    pub fn rate_limited(ms: u64) -> Self {
        Self::Error {
            status: 429,
            body: json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
            headers: vec![("retry-after-ms".into(), ms.to_string())],
        }
    }

    /// A 429 for an exhausted quota.
    pub fn quota() -> Self {
        Self::Error {
            status: 429,
            body: json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            headers: Vec::new(),
        }
    }

    /// A 500.
    pub fn server_error() -> Self {
        Self::Error {
            status: 500,
            body: json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}}),
            headers: Vec::new(),
        }
    }
}

fn tokens(text: &str) -> u64 {
    text.len().div_ceil(4) as u64
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    let mut v = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_760_000_000, "model": "gpt-4.1-mini-fake",
           "choices": [{"index": 0, "delta": null, "finish_reason": finish}], "usage": null, "obfuscation": "xyz"});
    v["choices"][0]["delta"] = delta;
    v
}

fn usage_chunk(prompt: u64, completion: u64) -> Value {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_760_000_000, "model": "gpt-4.1-mini-fake",
           "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
}

/// A scripted model: the reply to a (valid) request body.
pub type Model = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

#[derive(Default)]
struct Inner {
    queue: VecDeque<Reply>,
    model: Option<Model>,
    requests: Vec<Value>,
    embedding_requests: usize,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    key: Option<String>,
    dim: usize,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeOpenAi {
    shared: Shared,
    base_url: String,
}

impl std::fmt::Debug for FakeOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOpenAi")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl FakeOpenAi {
    /// Starts a fake requiring `key` (any key when `None`) with embeddings of `dim` dimensions.
    pub async fn start(key: Option<&str>, dim: usize) -> Self {
        let shared = Shared {
            inner: Arc::default(),
            key: key.map(str::to_owned),
            dim,
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(models))
            .with_state(shared.clone());
        let (listener, addr) = crate::bind().await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            base_url: format!("http://{addr}/v1"),
        }
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues replies, answered in order before the model is asked.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .queue
            .extend(replies);
    }

    /// Sets the scripted model.
    pub fn set_model(&self, model: Model) {
        self.shared.inner.lock().expect("the fake's lock").model = Some(model);
    }

    /// The chat request bodies received (valid or not).
    pub fn requests(&self) -> Vec<Value> {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .requests
            .clone()
    }

    /// Embeddings requests received.
    pub fn embedding_requests(&self) -> usize {
        self.shared
            .inner
            .lock()
            .expect("the fake's lock")
            .embedding_requests
    }
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(key) = &shared.key else { return true };
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {key}"))
}

/// What OpenAI refuses with a 400.
fn invalid(body: &Value) -> Option<String> {
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Some("you must provide a model parameter".into());
    }
    let messages = body["messages"].as_array()?;
    let mut pending: Vec<String> = Vec::new();
    for m in messages {
        match m["role"].as_str() {
            Some("assistant") => {
                if !pending.is_empty() {
                    return Some(format!(
                        "tool_call_ids did not have response messages: {}",
                        pending.join(", ")
                    ));
                }
                for c in m["tool_calls"].as_array().into_iter().flatten() {
                    pending.push(c["id"].as_str().unwrap_or_default().to_owned());
                }
            }
            Some("tool") => {
                let id = m["tool_call_id"].as_str().unwrap_or_default();
                let Some(k) = pending.iter().position(|p| p == id) else {
                    return Some(format!(
                        "a tool message answers {id:?}, which no assistant message called"
                    ));
                };
                pending.remove(k);
            }
            Some("system" | "developer" | "user") => {}
            other => return Some(format!("invalid role {other:?}")),
        }
    }
    if !pending.is_empty() {
        return Some(format!(
            "tool_call_ids did not have response messages: {}",
            pending.join(", ")
        ));
    }
    for t in body["tools"].as_array().into_iter().flatten() {
        if t["function"]["parameters"]["type"] != "object"
            || t["function"]["name"].as_str().is_none()
        {
            return Some("tools[].function.parameters must be a JSON Schema object".into());
        }
    }
    None
}

async fn completions(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
        );
    };
    let reply = {
        let mut inner = shared.inner.lock().expect("the fake's lock");
        inner.requests.push(body.clone());
        if !authorised(&shared, &headers) {
            drop(inner);
            return error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided.",
                "invalid_request_error",
            );
        }
        if let Some(why) = invalid(&body) {
            drop(inner);
            return error(StatusCode::BAD_REQUEST, &why, "invalid_request_error");
        }
        match inner.queue.pop_front() {
            Some(r) => r,
            None => match &inner.model {
                Some(m) => m(&body),
                None => Reply::server_error(),
            },
        }
    };
    respond(reply).await
}

async fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Json(v) => Json(v).into_response(),
        Reply::Error {
            status,
            body,
            headers,
        } => {
            let mut r = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Json(body),
            )
                .into_response();
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(k.as_bytes()),
                    axum::http::HeaderValue::from_str(&v),
                ) {
                    r.headers_mut().insert(k, v);
                }
            }
            r.headers_mut().insert(
                "x-request-id",
                axum::http::HeaderValue::from_static("req_fake"),
            );
            r
        }
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            stream(&[], false)
        }
        Reply::Stream { chunks, cut } => stream(&chunks, cut),
    }
}

/// Writes the events with small pauses, so that the client really reads a stream.
fn stream(chunks: &[Value], cut: bool) -> Response {
    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if !cut {
        events.push("data: [DONE]\n\n".into());
    }
    let body = futures_util::stream::unfold(events.into_iter(), |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(next)), it))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

async fn embeddings(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&shared, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
        );
    };
    shared
        .inner
        .lock()
        .expect("the fake's lock")
        .embedding_requests += 1;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "'input' is required",
                "invalid_request_error",
            );
        }
    };
    if inputs.len() > 2048 || inputs.iter().any(String::is_empty) {
        return error(
            StatusCode::BAD_REQUEST,
            "'input' must be 1 to 2048 non-empty strings",
            "invalid_request_error",
        );
    }
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": crate::embed(t, shared.dim)}))
        .collect();
    // The protocol orders results by `index`; return them reversed to prove the client does too.
    data.reverse();
    let used: u64 = inputs.iter().map(|t| tokens(t)).sum();
    Json(json!({"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": used, "total_tokens": used}}))
        .into_response()
}

async fn models() -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": "gpt-4.1-mini", "object": "model"}, {"id": "text-embedding-3-small", "object": "model"}]}),
    )
}
