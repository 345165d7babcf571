//! `chat-service`: `POST /api/chat` and the caller's conversations.
//!
//! The old payload `{"username","message","user_id"}` is kept: the authenticated identity
//! decides who is asking, and a `user_id` that is not the caller's is refused, never trusted.
//! An optional `conversation_id` continues a conversation. The reply keeps the old plain
//! `response` text and adds the conversation, citations, the data consulted, proposed actions,
//! the mode and token usage. Without a language model the offline answerer
//! (`moose-assistant`) answers from the state-code table and the knowledge base. Conversations
//! live in the caller's `Chat#<user>` partition: one `Conv#` item and one `Msg#` item per
//! message; another user's conversation answers 404, exactly like one that does not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use moose_assistant::Turn;
use moose_assistant::tools::ActionRequest;
use moose_domain::{keys, time::now_utc};
use moose_store::{BatchOp, Condition, Item, Key, Query, SortCondition, StoreExt, TxOp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chat_tools::{CallerTools, execute};
use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, AppState};

/// Longest message, characters.
const MAX_MESSAGE: usize = 4000;
/// Longest conversation title, characters.
const TITLE_CHARS: usize = 80;
/// GSI1 partition ordering every conversation by its last activity, for the retention sweep.
const ACTIVITY_PK: &str = "ChatActivity";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatRequest {
    #[serde(default)]
    username: Option<String>,
    message: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    system_id: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such conversation".into())
}

fn conversation_key(caller: &Caller, id: &str) -> Key {
    Key::new(
        keys::chat_pk(&caller.0.user.id),
        keys::chat_conversation_sk(id),
    )
}

/// A conversation id as Moose makes them (a UUID); anything else cannot exist.
fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

fn attrs(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// The instant before which conversations have expired.
fn retention_cutoff(state: &AppState) -> jiff::Timestamp {
    let days = i64::from(state.chat.retention_days);
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)
}

/// Whether a conversation item has outlived the retention period.
fn expired(state: &AppState, conversation: &Item) -> bool {
    conversation
        .str_attr("updated_at")
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t < retention_cutoff(state))
}

fn validate(body: &ChatRequest, caller: &Caller) -> Result<String, ApiError> {
    if let Some(claimed) = &body.user_id
        && claimed != caller.0.user.id.as_str()
    {
        return Err(ApiError::Forbidden(
            "user_id does not match the signed-in user".into(),
        ));
    }
    let message = body.message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("message: must be 1 to {MAX_MESSAGE} characters"),
        ));
    }
    if body
        .username
        .as_ref()
        .is_some_and(|u| u.chars().count() > 200)
    {
        return Err(ApiError::bad_request(
            "invalid_body",
            "username: at most 200 characters",
        ));
    }
    if body.system_id.as_ref().is_some_and(|s| s.len() > 200) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "system_id: at most 200 characters",
        ));
    }
    Ok(message.to_owned())
}

/// A conversation as it stands before this turn.
struct Conversation {
    id: String,
    created_at: String,
    title: String,
    history: Vec<(String, String)>,
}

async fn open_conversation(
    state: &AppState,
    caller: &Caller,
    requested: Option<&str>,
    message: &str,
    at: &str,
) -> Result<Conversation, ApiError> {
    let Some(id) = requested else {
        return Ok(Conversation {
            id: uuid::Uuid::new_v4().to_string(),
            created_at: at.to_owned(),
            title: message.chars().take(TITLE_CHARS).collect(),
            history: Vec::new(),
        });
    };
    if !valid_id(id) {
        return Err(not_found());
    }
    let item = state
        .store
        .get(&conversation_key(caller, id))
        .await?
        .filter(|c| !expired(state, c))
        .ok_or_else(not_found)?;
    let history = chat_items(state, caller, keys::chat_messages_prefix(id))
        .await?
        .into_iter()
        .map(|m| {
            (
                m.str_attr("role").unwrap_or("user").to_owned(),
                m.str_attr("text").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(Conversation {
        id: id.to_owned(),
        created_at: item.str_attr("created_at").unwrap_or_default().to_owned(),
        title: item.str_attr("title").unwrap_or_default().to_owned(),
        history,
    })
}

/// `POST /api/chat`: one turn of the assistant, as the caller.
pub(crate) async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<axum::response::Response, ApiError> {
    let message = validate(&body, &caller)?;
    let out = turn(&state, &caller, &headers, &body, message).await;
    if out.is_err() {
        state.assistant.counters().error();
    }
    out
}

async fn turn(
    state: &AppState,
    caller: &Caller,
    headers: &axum::http::HeaderMap,
    body: &ChatRequest,
    message: String,
) -> Result<axum::response::Response, ApiError> {
    let (state, caller) = (state.clone(), caller.clone());
    sweep_expired(&state).await;
    let at = now_utc();
    let stamp = at.to_string();
    let conv = open_conversation(
        &state,
        &caller,
        body.conversation_id.as_deref(),
        &message,
        &stamp,
    )
    .await?;
    let day = &stamp[..10];
    let used = tokens_used(&state, &caller, day).await?;
    let turn = Turn {
        question: message.clone(),
        history: conv.history.clone(),
        system_id: body.system_id.clone(),
        tokens_left: Some(state.chat.daily_tokens_per_user.saturating_sub(used)),
    };
    let tools = CallerTools {
        state: state.clone(),
        principal: caller.0.clone(),
        conversation: conv.id.clone(),
    };
    let started = std::time::Instant::now();
    let answer = state.assistant.answer(&turn, &tools).await;
    let took = started.elapsed();
    if let Some(u) = answer.usage {
        add_tokens(&state, &caller, day, u.total_tokens).await?;
    }
    let consulted: Vec<Value> = answer
        .consulted
        .iter()
        .map(|r| json!({"tool": r.tool, "arguments": r.arguments, "result": r.result}))
        .collect();
    let pk = keys::chat_pk(&caller.0.user.id);
    let ops = vec![
        TxOp::Put {
            item: Item::new(
                Key::new(pk.clone(), keys::chat_conversation_sk(&conv.id)),
                attrs(json!({"id": conv.id, "title": conv.title, "created_at": conv.created_at, "updated_at": stamp})),
            )
            .with_gsi1(ACTIVITY_PK, format!("{stamp}#{}#{}", caller.0.user.id, conv.id)),
            condition: Condition::None,
        },
        TxOp::Put {
            item: Item::new(
                Key::new(pk.clone(), keys::chat_message_sk(&conv.id, &stamp, 0)),
                attrs(json!({"role": "user", "text": message, "username": body.username, "system_id": body.system_id, "at": stamp})),
            ),
            condition: Condition::None,
        },
        TxOp::Put {
            item: Item::new(
                Key::new(pk, keys::chat_message_sk(&conv.id, &stamp, 1)),
                attrs(json!({"role": "assistant", "text": answer.text, "citations": answer.citations, "mode": answer.mode,
                             "usage": answer.usage, "proposed_actions": answer.proposed, "tools": answer.consulted.iter().map(|r| r.tool.clone()).collect::<Vec<_>>(), "at": stamp})),
            ),
            condition: Condition::None,
        },
    ];
    state.store.transact(ops).await?;
    let reply = json!({
        "response": answer.text,
        "conversation_id": conv.id,
        "citations": answer.citations,
        "data_consulted": consulted,
        "proposed_actions": answer.proposed,
        "mode": answer.mode,
        "usage": answer.usage,
        "notice": answer.notice,
    });
    let wants_stream = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let mut response = if wants_stream {
        stream(&reply, &answer.text).into_response()
    } else {
        axum::Json(reply).into_response()
    };
    // How long the turn took and how much of it was the model's (Server-Timing, in ms).
    let timing = format!(
        "model;dur={:.1}, assistant;dur={:.1}",
        answer.model_time.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1000.0
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", v);
    }
    Ok(response)
}

/// The caller's tokens used on a UTC day.
async fn tokens_used(state: &AppState, caller: &Caller, day: &str) -> Result<u64, ApiError> {
    let key = Key::new(keys::chat_pk(&caller.0.user.id), keys::chat_budget_sk(day));
    Ok(state
        .store
        .get(&key)
        .await?
        .and_then(|i| i.attrs.get("tokens").and_then(Value::as_u64))
        .unwrap_or(0))
}

/// Adds to the caller's tokens of the day; concurrent turns cannot lose an addition.
async fn add_tokens(state: &AppState, caller: &Caller, day: &str, n: u64) -> Result<(), ApiError> {
    let key = Key::new(keys::chat_pk(&caller.0.user.id), keys::chat_budget_sk(day));
    for _ in 0..5 {
        let current = state.store.get(&key).await?;
        let (old, condition) = match &current {
            Some(i) => {
                let old = i.attrs.get("tokens").cloned().unwrap_or(json!(0));
                (
                    old.as_u64().unwrap_or(0),
                    Condition::AttributeEquals {
                        name: "tokens".into(),
                        value: old,
                    },
                )
            }
            None => (0, Condition::NotExists),
        };
        let item = Item::new(key.clone(), attrs(json!({"tokens": old + n, "day": day})));
        match state.store.put(item, condition).await {
            Ok(()) => return Ok(()),
            Err(moose_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    tracing::warn!("the token budget kept changing; this turn's tokens were not counted");
    Ok(())
}

/// Deletes conversations whose last activity is older than the retention period, a page at a
/// time, at most once a minute per process (both hosts run it on chat requests).
async fn sweep_expired(state: &AppState) {
    {
        let Ok(mut last) = state.chat_swept.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60)) {
            return;
        }
        *last = Some(std::time::Instant::now());
    }
    let cutoff = retention_cutoff(state).to_string();
    let q = Query::gsi1(ACTIVITY_PK)
        .sort(SortCondition::AtMost(cutoff))
        .limit(25);
    let page = match state.store.query(&q).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "the conversation retention sweep failed");
            return;
        }
    };
    for conv in page.items {
        let Some(id) = conv.str_attr("id").map(str::to_owned) else {
            continue;
        };
        if let Err(e) = delete_all(state, &conv.key.pk, &id).await {
            tracing::warn!(error = %e, "an expired conversation could not be deleted");
        }
    }
}

/// Deletes a conversation and its messages from partition `pk`.
async fn delete_all(state: &AppState, pk: &str, id: &str) -> Result<(), ApiError> {
    let q = Query::partition(pk.to_owned()).begins_with(keys::chat_messages_prefix(id));
    let mut ops: Vec<BatchOp> = state
        .store
        .query_all(&q)
        .await?
        .into_iter()
        .map(|item| BatchOp::Delete(item.key))
        .collect();
    ops.push(BatchOp::Delete(Key::new(
        pk.to_owned(),
        keys::chat_conversation_sk(id),
    )));
    for chunk in ops.chunks(25) {
        state.store.batch_write(chunk.to_vec()).await?;
    }
    Ok(())
}

/// The reply as server-sent events: `meta` (conversation and mode), the answer's text in
/// `delta` pieces (a sentence or line each), then `done` with the whole JSON reply. The text is
/// checked against the tools' figures before any of it is sent, so the deltas follow the
/// finished answer; on Lambda the events arrive together in one buffered body.
fn stream(reply: &Value, text: &str) -> impl IntoResponse {
    use axum::response::sse::{Event, Sse};
    let mut events = vec![Event::default().event("meta").data(
        json!({"conversation_id": reply["conversation_id"], "mode": reply["mode"]}).to_string(),
    )];
    let mut piece = String::new();
    for c in text.chars() {
        piece.push(c);
        if matches!(c, '.' | '?' | '!' | '\n') {
            events.push(
                Event::default()
                    .event("delta")
                    .data(json!({"text": piece}).to_string()),
            );
            piece.clear();
        }
    }
    if !piece.is_empty() {
        events.push(
            Event::default()
                .event("delta")
                .data(json!({"text": piece}).to_string()),
        );
    }
    events.push(Event::default().event("done").data(reply.to_string()));
    (
        // Reverse proxies (nginx) buffer responses unless told not to, which would hold the
        // events back until the answer ends.
        [("x-accel-buffering", "no")],
        Sse::new(futures_util::stream::iter(
            events.into_iter().map(Ok::<_, std::convert::Infallible>),
        )),
    )
}

/// Confirms a proposed action: executes it as the caller, under the same rule as the HTTP
/// route it stands for (checked again now). Another user's proposal answers 404 like an
/// unknown one; a proposal runs once.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let missing = || ApiError::NotFound("no such proposed action".into());
    if !valid_id(&id) {
        return Err(missing());
    }
    let key = Key::new(
        keys::chat_pk(&caller.0.user.id),
        keys::chat_proposal_sk(&id),
    );
    let item = state.store.get(&key).await?.ok_or_else(missing)?;
    if item.str_attr("status") != Some("pending") {
        return Err(ApiError::Conflict(
            "this proposed action was already confirmed".into(),
        ));
    }
    let expired = item
        .str_attr("expires_at")
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| t < jiff::Timestamp::now());
    if expired {
        return Err(ApiError::Conflict(
            "this proposed action has expired; ask again".into(),
        ));
    }
    let request: ActionRequest = item
        .attrs
        .get("request")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(missing)?;
    // Claim it first: two confirmations cannot both run it.
    let mut done = item.clone();
    done.attrs.insert("status".into(), json!("confirmed"));
    state
        .store
        .put(
            done,
            Condition::AttributeEquals {
                name: "status".into(),
                value: json!("pending"),
            },
        )
        .await
        .map_err(|e| match e {
            moose_store::StoreError::Conflict { .. } => {
                ApiError::Conflict("this proposed action was already confirmed".into())
            }
            other => other.into(),
        })?;
    let mut out = execute(&state, &caller.0, &request, ip.as_deref()).await?;
    out["id"] = json!(id);
    out["action"] = json!(request)["action"].clone();
    out["status"] = json!("confirmed");
    Ok(axum::Json(out))
}

/// The caller's chat items whose sort key begins with `prefix`.
async fn chat_items(
    state: &AppState,
    caller: &Caller,
    prefix: String,
) -> Result<Vec<Item>, ApiError> {
    let q = Query::partition(keys::chat_pk(&caller.0.user.id))
        .begins_with(prefix)
        .limit(1000);
    Ok(state.store.query_all(&q).await?)
}

/// The caller's conversations, most recently active first (expired ones are not shown).
pub(crate) async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let mut list: Vec<Value> = chat_items(&state, &caller, keys::CHAT_CONVERSATION_PREFIX.into())
        .await?
        .into_iter()
        .filter(|item| !expired(&state, item))
        .map(|item| Value::Object(item.attrs))
        .collect();
    list.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
    Ok(axum::Json(
        json!({"conversations": list, "retention_days": state.chat.retention_days}),
    ))
}

/// One of the caller's conversations with its messages.
pub(crate) async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let meta = state
        .store
        .get(&conversation_key(&caller, &id))
        .await?
        .filter(|c| !expired(&state, c))
        .ok_or_else(not_found)?;
    let messages: Vec<Value> = chat_items(&state, &caller, keys::chat_messages_prefix(&id))
        .await?
        .into_iter()
        .map(|item| Value::Object(item.attrs))
        .collect();
    let mut body = Value::Object(meta.attrs);
    body["messages"] = Value::Array(messages);
    Ok(axum::Json(body))
}

/// Deletes one of the caller's conversations and its messages.
pub(crate) async fn delete_conversation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let key = conversation_key(&caller, &id);
    if state.store.get(&key).await?.is_none() {
        return Err(not_found());
    }
    delete_all(&state, &keys::chat_pk(&caller.0.user.id), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The assistant's counters (administrators).
pub(crate) async fn metrics(State(state): State<AppState>) -> axum::Json<Value> {
    let a = &state.assistant;
    axum::Json(json!({
        "model_configured": a.has_model(),
        "hybrid_retrieval": a.retriever().is_hybrid(),
        "dense_failures": a.retriever().dense_failures(),
        "counters": a.counters().snapshot(),
    }))
}
