//! `POST /api/chat`: the old payload `{"username","message","user_id"}`.
//!
//! The authenticated identity decides who is asking; a `user_id` in the body that is not the
//! caller's is refused, never trusted. The assistant itself is not built yet: the question is
//! logged to the caller's chat history and the answer is a 503 saying so.

use axum::extract::State;
use moose_domain::{keys, time::now_utc};
use moose_store::{Condition, Item, Key};
use serde::Deserialize;
use serde_json::json;

use super::Caller;
use crate::{ApiError, ApiJson, AppState};

#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    #[serde(default)]
    username: Option<String>,
    message: String,
    #[serde(default)]
    user_id: Option<String>,
}

pub(crate) async fn chat(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<(), ApiError> {
    if let Some(claimed) = &body.user_id
        && claimed != caller.user.id.as_str()
    {
        return Err(ApiError::Forbidden(
            "user_id does not match the signed-in user".into(),
        ));
    }
    let message = body.message.trim();
    if message.is_empty() || message.len() > 4000 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "message: must be 1 to 4000 characters",
        ));
    }
    let at = now_utc();
    let id = uuid::Uuid::new_v4().to_string();
    let entry = json!({"role": "user", "message": message, "username": body.username, "user_id": caller.user.id});
    let item = Item::new(
        Key::new(keys::chat_pk(&caller.user.id), format!("{at}#{id}")),
        entry.as_object().cloned().unwrap_or_default(),
    );
    state.store.put(item, Condition::NotExists).await?;
    Err(ApiError::NotConfigured(
        "the assistant is not available on this Moose yet; the question was logged".into(),
    ))
}
