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
use moose_assistant::data;
use moose_domain::{keys, time::now_utc};
use moose_incidents::CodeTable;
use moose_knowledge::KnowledgeBase;
use moose_solardata::{SolarRepo, SystemMeta};
use moose_store::{BatchOp, Condition, Item, Key, Query, StoreExt, TxOp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, AppState};

/// Longest message, characters.
const MAX_MESSAGE: usize = 4000;
/// Longest conversation title, characters.
const TITLE_CHARS: usize = 80;

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

pub(crate) async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<axum::response::Response, ApiError> {
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
    let at = now_utc();
    let (id, created_at, title) = match &body.conversation_id {
        Some(id) => {
            if !valid_id(id) {
                return Err(not_found());
            }
            let item = state
                .store
                .get(&conversation_key(&caller, id))
                .await?
                .ok_or_else(not_found)?;
            (
                id.clone(),
                item.str_attr("created_at").unwrap_or_default().to_owned(),
                item.str_attr("title").unwrap_or_default().to_owned(),
            )
        }
        None => (
            uuid::Uuid::new_v4().to_string(),
            at.to_string(),
            message.chars().take(TITLE_CHARS).collect(),
        ),
    };
    let mut proposed = Vec::new();
    let (answer, consulted) = if data::action_intent(message).is_some() {
        let (answer, proposal) = propose_acknowledgement(&state, &caller, &id).await?;
        proposed.extend(proposal);
        (answer, Vec::new())
    } else {
        match data::energy_question(message) {
            Some(q) => {
                energy_answer(&state, &caller, message, q, body.system_id.as_deref()).await?
            }
            None if data::fleet_question(message).is_some() => {
                let period = data::fleet_question(message).unwrap_or(data::Period::Week);
                fleet_answer(&state, &caller, period).await?
            }
            None if data::status_question(message)
                && !moose_assistant::offline::names_a_state_code(message) =>
            {
                status_answer(&state, &caller, message, body.system_id.as_deref()).await?
            }
            None => (
                moose_assistant::offline::answer(
                    message,
                    CodeTable::builtin(),
                    KnowledgeBase::builtin(),
                ),
                Vec::new(),
            ),
        }
    };
    let pk = keys::chat_pk(&caller.0.user.id);
    let stamp = at.to_string();
    let attrs = |v: Value| v.as_object().cloned().unwrap_or_default();
    let ops = vec![
        TxOp::Put {
            item: Item::new(
                Key::new(pk.clone(), keys::chat_conversation_sk(&id)),
                attrs(
                    json!({"id": id, "title": title, "created_at": created_at, "updated_at": stamp}),
                ),
            ),
            condition: Condition::None,
        },
        TxOp::Put {
            item: Item::new(
                Key::new(pk.clone(), keys::chat_message_sk(&id, &stamp, 0)),
                attrs(
                    json!({"role": "user", "text": message, "username": body.username, "system_id": body.system_id, "at": stamp}),
                ),
            ),
            condition: Condition::None,
        },
        TxOp::Put {
            item: Item::new(
                Key::new(pk, keys::chat_message_sk(&id, &stamp, 1)),
                attrs(
                    json!({"role": "assistant", "text": answer.text, "citations": answer.citations, "mode": answer.mode, "at": stamp}),
                ),
            ),
            condition: Condition::None,
        },
    ];
    state.store.transact(ops).await?;
    let reply = json!({
        "response": answer.text,
        "conversation_id": id,
        "citations": answer.citations,
        "data_consulted": consulted,
        "proposed_actions": proposed,
        "mode": answer.mode,
        "usage": null,
        "notice": answer.notice,
    });
    let wants_stream = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    Ok(if wants_stream {
        stream(&reply, &answer.text).into_response()
    } else {
        axum::Json(reply).into_response()
    })
}

/// The reply as server-sent events: `meta` (conversation and mode), the answer's text in
/// `delta` pieces (a sentence or line each), then `done` with the whole JSON reply. On Lambda
/// the events arrive together in one buffered body.
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
    Sse::new(futures_util::stream::iter(
        events.into_iter().map(Ok::<_, std::convert::Infallible>),
    ))
}

/// How long a proposed action waits for its confirmation.
const PROPOSAL_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// "Acknowledge the open incident": the newest open incident the caller may see becomes a
/// proposal stored in the caller's partition; nothing is acknowledged until the caller confirms
/// it (`POST /api/chat/actions/{id}/confirm`). Whatever the message says ("all", instructions
/// planted anywhere), at most one proposal for one incident comes out of a turn.
async fn propose_acknowledgement(
    state: &AppState,
    caller: &Caller,
    conversation: &str,
) -> Result<(moose_assistant::Answer, Option<Value>), ApiError> {
    let open = super::incidents::open_visible(state, &caller.0, 50).await?;
    let Some(incident) = open.iter().find(|i| i.acked_by.is_none()) else {
        let answer = moose_assistant::Answer::offline(
            "You have no open, unacknowledged incident to acknowledge.".into(),
            Vec::new(),
        );
        return Ok((answer, None));
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = jiff::Timestamp::now();
    let expires = now + PROPOSAL_TTL;
    let proposal = json!({
        "id": id, "action": "acknowledge_incident", "incident": incident.id,
        "title": incident.title, "conversation_id": conversation, "status": "pending",
        "created_at": now, "expires_at": expires,
    });
    state
        .store
        .put(
            Item::new(
                Key::new(
                    keys::chat_pk(&caller.0.user.id),
                    keys::chat_proposal_sk(&id),
                ),
                proposal.as_object().cloned().unwrap_or_default(),
            ),
            Condition::NotExists,
        )
        .await?;
    let text = format!(
        "I can acknowledge \"{}\" (incident {}). Nothing is done until you confirm: POST /api/chat/actions/{id}/confirm within 15 minutes.",
        incident.title, incident.id
    );
    let answer = moose_assistant::Answer::offline(text, Vec::new());
    let offered = json!({
        "id": id, "action": "acknowledge_incident", "incident": incident.id, "title": incident.title,
        "expires_at": expires, "confirm": format!("/api/chat/actions/{id}/confirm"),
    });
    Ok((answer, Some(offered)))
}

/// Confirms a proposed action: executes it as the caller, under the same rule as the HTTP
/// route it stands for. Another user's proposal answers 404 like an unknown one; a proposal
/// runs once.
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
    let incident = item.str_attr("incident").unwrap_or_default().to_owned();
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
    let acked = super::incidents::acknowledge_as(
        &state,
        &caller.0,
        &incident,
        Some("confirmed in the assistant"),
        ip.as_deref(),
    )
    .await?;
    Ok(axum::Json(json!({
        "id": id, "action": "acknowledge_incident", "status": "confirmed",
        "incident": super::incidents::to_json(&acked)?,
    })))
}

/// The systems the caller may see, as the access policy says (`GET /api/systems`' rule).
async fn my_systems(state: &AppState, caller: &Caller) -> Result<Vec<SystemMeta>, ApiError> {
    let repo = SolarRepo::new(std::sync::Arc::clone(&state.store));
    Ok(match state.auth.visible_systems(&caller.0).await? {
        None => repo.all_systems().await?,
        Some(memberships) => {
            let mut metas = Vec::new();
            for m in memberships {
                metas.extend(repo.meta(&m.system).await?);
            }
            metas
        }
    })
}

/// Which of the caller's systems a question (or a `system_id`) means; a `system_id` the caller
/// may not see is answered exactly like one that does not exist.
fn resolve<'a>(
    refs: &'a [data::SystemRef],
    message: &str,
    system_id: Option<&str>,
) -> data::Resolved<'a> {
    match system_id {
        Some(id) => refs
            .iter()
            .find(|r| r.id == id)
            .map_or(data::Resolved::NoneOfYours, data::Resolved::One),
        None => data::resolve_system(message, refs),
    }
}

fn refs_of(mine: &[SystemMeta]) -> Vec<data::SystemRef> {
    mine.iter()
        .map(|m| data::SystemRef {
            id: m.id.as_str().to_owned(),
            name: m.name.clone(),
        })
        .collect()
}

/// Systems ranked at most in one fleet answer (the rest are said to be left out).
const FLEET_LIMIT: usize = 200;

/// "Which of my systems underperformed this week?": the KPI API's performance index of each of
/// the caller's systems over the period (site-local days up to yesterday), lowest first.
async fn fleet_answer(
    state: &AppState,
    caller: &Caller,
    period: data::Period,
) -> Result<(moose_assistant::Answer, Vec<Value>), ApiError> {
    let mine = my_systems(state, caller).await?;
    let repo = SolarRepo::new(std::sync::Arc::clone(&state.store));
    let mut standings = Vec::new();
    let mut consulted = Vec::new();
    let (mut first, mut last) = (String::new(), String::new());
    for meta in mine.iter().take(FLEET_LIMIT) {
        let today = jiff::Timestamp::now().to_zoned_datetime(meta.tz()).date();
        let to = today.yesterday().unwrap_or(today);
        let from = to
            .checked_sub(jiff::Span::new().days(period.days() - 1))
            .unwrap_or(to);
        (first, last) = (from.to_string(), to.to_string());
        let k = moose_solardata::query::kpis(&repo, meta, from, to).await?;
        consulted.push(json!({
            "query": "kpis",
            "route": format!("/api/systems/{}/kpis?from={from}&to={to}", meta.id),
            "system": meta.id,
            "performance_index": k.performance_index,
        }));
        standings.push(data::Standing {
            system: data::SystemRef {
                id: meta.id.as_str().to_owned(),
                name: meta.name.clone(),
            },
            performance_index: k.performance_index,
            specific_yield: k.specific_yield_kwh_per_kwp,
        });
    }
    let mut answer = data::fleet_answer(period, &first, &last, &standings);
    if mine.len() > FLEET_LIMIT {
        answer.text.push_str(&format!(
            "\nOnly the first {FLEET_LIMIT} of your {} systems were ranked; ask about a system by name.",
            mine.len()
        ));
    }
    Ok((answer, consulted))
}

/// "How is X doing?": the system's `STATUS` and open incidents, as
/// `GET /api/systems/{id}/status` gives them, for one of the caller's systems.
async fn status_answer(
    state: &AppState,
    caller: &Caller,
    message: &str,
    system_id: Option<&str>,
) -> Result<(moose_assistant::Answer, Vec<Value>), ApiError> {
    let mine = my_systems(state, caller).await?;
    let refs = refs_of(&mine);
    let resolved = resolve(&refs, message, system_id);
    let data::Resolved::One(system) = resolved else {
        return Ok((data::unresolved_answer(&resolved), Vec::new()));
    };
    let id = moose_domain::SystemId::parse(&system.id)
        .map_err(|_| ApiError::NotFound("no such system".into()))?;
    let incidents = moose_incidents::IncidentRepo::new(std::sync::Arc::clone(&state.store));
    let status = incidents.status(&id).await?.map(|v| v.value);
    let mut open = Vec::new();
    if let Some(st) = &status {
        for incident_id in st.open.values() {
            if let Some(i) = incidents.incident(incident_id).await? {
                open.push(data::OpenIncident {
                    id: i.id.clone(),
                    kind: i.kind.as_str().to_owned(),
                    title: i.title.clone(),
                    since: i.since.to_string(),
                });
            }
        }
    }
    let fact = data::StatusFact {
        system: system.clone(),
        state: status.as_ref().map(|s| {
            serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }),
        last_data: status
            .as_ref()
            .and_then(|s| s.last_data_at)
            .map(|t| t.to_string()),
        open,
    };
    let consulted = vec![json!({
        "query": "system status",
        "route": format!("/api/systems/{}/status", system.id),
        "system": system.id,
        "state": fact.state,
        "open_incidents": fact.open.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
    })];
    Ok((data::status_answer(&fact), consulted))
}

/// "How much did X produce yesterday?": the system is resolved among the caller's systems
/// only (a `system_id` that is not theirs counts as not named), and the figure is the energy
/// API's for the site-local day.
async fn energy_answer(
    state: &AppState,
    caller: &Caller,
    message: &str,
    question: data::EnergyQuestion,
    system_id: Option<&str>,
) -> Result<(moose_assistant::Answer, Vec<Value>), ApiError> {
    let mine = my_systems(state, caller).await?;
    let refs = refs_of(&mine);
    let resolved = resolve(&refs, message, system_id);
    let data::Resolved::One(system) = resolved else {
        return Ok((data::unresolved_answer(&resolved), Vec::new()));
    };
    let Some(meta) = mine.iter().find(|m| m.id.as_str() == system.id) else {
        return Ok((
            data::unresolved_answer(&data::Resolved::NoneOfYours),
            Vec::new(),
        ));
    };
    let today = jiff::Timestamp::now().to_zoned_datetime(meta.tz()).date();
    let date = match question.day {
        data::Day::Today => today,
        data::Day::Yesterday => today.yesterday().unwrap_or(today),
    };
    let repo = SolarRepo::new(std::sync::Arc::clone(&state.store));
    let energy = repo
        .daily(&meta.id, date, date)
        .await?
        .into_iter()
        .next()
        .map(|(_, e)| e)
        .unwrap_or_default();
    let fact = data::EnergyFact {
        system: system.clone(),
        date: date.to_string(),
        day: question.day,
        produced_wh: energy.produced_wh,
        hidden_wh: energy.hidden_wh,
    };
    let consulted = vec![json!({
        "query": "daily energy",
        "route": format!("/api/systems/{}/energy?period=day&from={date}&to={date}", meta.id),
        "system": meta.id,
        "period": date.to_string(),
        "produced_wh": energy.produced_wh,
        "hidden_wh": energy.hidden_wh,
    })];
    Ok((data::energy_answer(&fact), consulted))
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

/// The caller's conversations, most recently active first.
pub(crate) async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let mut list: Vec<Value> = chat_items(&state, &caller, keys::CHAT_CONVERSATION_PREFIX.into())
        .await?
        .into_iter()
        .map(|item| Value::Object(item.attrs))
        .collect();
    list.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
    Ok(axum::Json(json!({"conversations": list})))
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
    let mut ops: Vec<BatchOp> = chat_items(&state, &caller, keys::chat_messages_prefix(&id))
        .await?
        .into_iter()
        .map(|item| BatchOp::Delete(item.key))
        .collect();
    ops.push(BatchOp::Delete(key));
    for chunk in ops.chunks(25) {
        state.store.batch_write(chunk.to_vec()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
