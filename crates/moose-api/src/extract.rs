//! Extractors whose rejections are [`ApiError`]s, so malformed input gets the same JSON error
//! body as everything else and says what is wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// `Json<T>` with JSON error responses. The body must be a JSON object: serde would also
/// fill a struct from an array (`[null, null]`), which no client means.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

/// Decodes a body that axum accepted as JSON into `T`, refusing anything but an object.
fn decode_object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("the body does not match: {inner}")
        } else {
            format!("the body does not match: {path}: {inner}")
        };
        ApiError::bad_request("invalid_body", message)
    })
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => decode_object(value).map(Self),
            Err(rejection) => Err(json_rejection(&rejection, limit)),
        }
    }
}

/// `Option<ApiJson<T>>`: `None` when the request has no body type at all (an optional body),
/// the same errors as [`ApiJson`] otherwise.
impl<S, T> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        match <axum::Json<serde_json::Value> as axum::extract::OptionalFromRequest<S>>::from_request(
            req, state,
        )
        .await
        {
            Ok(Some(axum::Json(value))) => decode_object(value).map(|v| Some(Self(v))),
            Ok(None) => Ok(None),
            Err(rejection) => Err(json_rejection(&rejection, limit)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection, limit: usize) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected `Content-Type: application/json`".into())
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::bad_request(
            "invalid_body",
            format!("the body does not match: {}", e.body_text()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit }
        }
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// The configured body limit, put in request extensions by the edge so that rejections can
/// state it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// `Query<T>` with JSON error responses naming the bad parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            // axum names the field (`from: …`); the message starts with it, as handler
            // errors do.
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                "invalid_query",
                e.body_text()
                    .trim_start_matches("Failed to deserialize query string: ")
                    .to_owned(),
            )),
            Err(other) => Err(ApiError::bad_request("invalid_query", other.body_text())),
        }
    }
}

/// Longest path parameter considered: ids are at most `moose_domain::MAX_ID_LEN` (128)
/// characters, so anything longer names nothing and never reaches the store.
const MAX_PATH_PARAM: usize = 256;

/// `Path<T>` with JSON error responses: a parameter that is not valid UTF-8 or does not parse is
/// a 400 naming the problem; an overlong one a 404 (it cannot name anything).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await
            && let Some((name, _)) = raw.iter().find(|(_, v)| v.len() > MAX_PATH_PARAM)
        {
            return Err(ApiError::NotFound(format!(
                "{name}: no such resource (longer than {MAX_PATH_PARAM} characters)"
            )));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_path",
                format!("invalid path parameter: {}", rejection.body_text()),
            )),
        }
    }
}
