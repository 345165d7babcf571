//! The one error type of the HTTP edge.
//!
//! Every error response has the body `{"error": {"code": "...", "message": "..."}}`. Client
//! errors (4xx) say exactly what is wrong; server errors (5xx) say something generic while the
//! cause is logged with the request id, so internals never leak to callers.

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use moose_store::StoreError;
use serde_json::json;

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to an API caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed; `code` is stable and machine-readable.
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code, e.g. `invalid_query`.
        code: &'static str,
        /// What is wrong, naming the parameter or field.
        message: String,
    },
    /// Not signed in, or the credential is invalid.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    /// No such resource (or the caller may not know it exists).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(Method),
    /// The body exceeds the configured limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not of the expected media type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A write lost a race or broke a precondition.
    #[error("{0}")]
    Conflict(String),
    /// The request took longer than the configured timeout.
    #[error("the request took longer than {0} seconds")]
    Timeout(u64),
    /// A feature this installation has not configured (503, with the reason shown).
    #[error("{0}")]
    NotConfigured(String),
    /// A dependency is down; retrying later may succeed.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug or unexpected failure.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Timeout(_) | Self::Unavailable(_) | Self::NotConfigured(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Conflict(_) => "conflict",
            Self::Timeout(_) => "timeout",
            Self::NotConfigured(_) => "not_configured",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// The error and its sources, `: `-separated, for logs.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Unavailable(cause) => {
                tracing::warn!(error = %chain(&**cause), "dependency unavailable");
                "a dependency is unavailable; try again later".to_owned()
            }
            Self::Internal(cause) => {
                tracing::error!(error = %chain(&**cause), "internal error");
                "internal error; the request id identifies it in the logs".to_owned()
            }
            other => other.to_string(),
        };
        let body = json!({"error": {"code": self.code(), "message": message}});
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests(secs) => {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { .. } => Self::NotFound("not found".into()),
            StoreError::Conflict { .. } => {
                Self::Conflict("the resource was changed concurrently; reload and retry".into())
            }
            err if err.is_retryable() => Self::Unavailable(Box::new(err)),
            err => Self::Internal(Box::new(err)),
        }
    }
}

impl From<moose_auth::AuthError> for ApiError {
    fn from(err: moose_auth::AuthError) -> Self {
        use moose_auth::AuthError as E;
        match err {
            E::Unauthenticated => Self::Unauthorized("invalid credentials".into()),
            E::Throttled(wait) => Self::TooManyRequests(wait.as_secs().max(1)),
            E::Invalid(m) => Self::bad_request("invalid_request", m),
            E::Conflict(m) => Self::Conflict(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Forbidden(m) => Self::Forbidden(m),
            E::Store(e) => e.into(),
        }
    }
}

impl From<moose_auth::Denied> for ApiError {
    fn from(denied: moose_auth::Denied) -> Self {
        match denied {
            moose_auth::Denied::Unauthenticated => {
                Self::Unauthorized("a valid bearer token is required".into())
            }
            moose_auth::Denied::Forbidden(why) => Self::Forbidden(why.into()),
            moose_auth::Denied::Hidden => Self::NotFound("no such resource".into()),
        }
    }
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}
