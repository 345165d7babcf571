//! The semantic errors of the store. Backends map their native errors into these, so callers
//! match on meaning, never on SQLite or DynamoDB error codes.

use crate::Key;

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The item does not exist (from [`crate::StoreExt::get_required`], or a write conditioned
    /// on [`crate::Condition::Exists`]).
    #[error("item {key} not found")]
    NotFound {
        /// The key that was looked up.
        key: Key,
    },
    /// A write's condition did not hold, typically because someone else wrote first.
    #[error("conflict on {}: {reason}", key.as_ref().map_or_else(|| "a transaction".to_owned(), ToString::to_string))]
    Conflict {
        /// The item whose condition failed, when the backend can tell.
        key: Option<Key>,
        /// What did not hold.
        reason: String,
    },
    /// The request breaks the store's contract (item too large, reserved attribute, too many
    /// operations in a transaction, …). Retrying cannot help.
    #[error("invalid store request: {0}")]
    InvalidRequest(String),
    /// The store cannot be reached or used right now (I/O error, throttling, locked database).
    /// Retrying later may help.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What is unavailable, phrased for an operator.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Stored data could not be decoded.
    #[error("stored item {key} is corrupt: {reason}")]
    Corrupt {
        /// The item that could not be decoded.
        key: Key,
        /// Why.
        reason: String,
    },
    /// Anything else; a bug or an unexpected backend failure.
    #[error("store error: {0}")]
    Other(#[source] BoxError),
}

impl StoreError {
    /// Builds an [`StoreError::Unavailable`] from a message and a source.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
