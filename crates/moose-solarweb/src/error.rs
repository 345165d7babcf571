//! Typed errors of the Query API and of talking to it.

use std::time::Duration;

/// What went wrong calling the Query API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SolarWebError {
    /// Credentials missing, wrong, inactive or expired (HTTP 401; `responseError` 11xx).
    #[error("Solar.web rejected the credentials ({code:?}): {message}")]
    Auth {
        /// `responseError`, when sent.
        code: Option<i64>,
        /// `responseMessage`, when sent.
        message: String,
    },
    /// Authenticated, but not allowed to see this system (HTTP 403; 1013).
    #[error("Solar.web denied access ({code:?}): {message}")]
    Forbidden {
        /// `responseError`, when sent.
        code: Option<i64>,
        /// `responseMessage`.
        message: String,
    },
    /// Unknown system or device (HTTP 404; 1015).
    #[error("not found on Solar.web: {message}")]
    NotFound {
        /// `responseMessage`.
        message: String,
    },
    /// The request was malformed (HTTP 400; 1004 input, 1005 date format, 1008 channel name).
    #[error("Solar.web refused the request ({code:?}): {message}")]
    BadRequest {
        /// `responseError`, when sent.
        code: Option<i64>,
        /// `responseMessage`.
        message: String,
    },
    /// The call quota is exhausted or the rate limit hit (HTTP 429; 1011).
    #[error("Solar.web quota exhausted or rate limited: {message}")]
    Quota {
        /// `responseMessage`.
        message: String,
        /// How long the API asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The API is under maintenance (HTTP 503 with 1012).
    #[error("Solar.web is under maintenance: {message}")]
    Maintenance {
        /// `responseMessage` (carries the end time).
        message: String,
    },
    /// Any other server-side failure (HTTP 5xx).
    #[error("Solar.web answered HTTP {status}")]
    Server {
        /// The status code.
        status: u16,
    },
    /// No answer within the timeout.
    #[error("Solar.web did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed.
    #[error("cannot reach Solar.web: {0}")]
    Connect(String),
    /// The response was not what the API documents.
    #[error("unexpected response from {endpoint}: {message}")]
    Decode {
        /// The endpoint kind.
        endpoint: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A retryable failure persisted beyond the retry budget.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<SolarWebError>,
    },
}

impl SolarWebError {
    /// Whether the same request may succeed if retried after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Quota { .. }
                | Self::Maintenance { .. }
                | Self::Server { .. }
                | Self::Timeout(_)
                | Self::Connect(_)
        )
    }

    /// A short, stable name of the error kind, for metrics and run summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Auth { .. } => "auth",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::BadRequest { .. } => "bad_request",
            Self::Quota { .. } => "quota",
            Self::Maintenance { .. } => "maintenance",
            Self::Server { .. } => "server",
            Self::Timeout(_) => "timeout",
            Self::Connect(_) => "connect",
            Self::Decode { .. } => "decode",
            Self::RetriesExhausted { last, .. } => last.kind(),
        }
    }

    /// Maps an HTTP error status and the API's error body to an error.
    pub(crate) fn from_status(
        status: u16,
        code: Option<i64>,
        message: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let message = message.unwrap_or_else(|| format!("HTTP {status}"));
        match (status, code) {
            (_, Some(1011)) | (429, _) => Self::Quota {
                message,
                retry_after,
            },
            (_, Some(1012)) => Self::Maintenance { message },
            (_, Some(1013)) | (403, _) => Self::Forbidden { code, message },
            (_, Some(1015)) | (404, _) => Self::NotFound { message },
            (_, Some(1101..=1199)) | (401, _) => Self::Auth { code, message },
            (400..=499, _) => Self::BadRequest { code, message },
            (status, _) => Self::Server { status },
        }
    }
}
