//! Handlers, by resource. Access is decided before they run (see `access.rs`); they get the
//! caller from [`Caller`].

pub(crate) mod auth;
pub(crate) mod chat;
pub(crate) mod chat_tools;
pub(crate) mod fleet;
pub(crate) mod incidents;
pub(crate) mod notifications;
pub(crate) mod status;
pub(crate) mod systems;
pub(crate) mod users;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use moose_auth::Principal;

use crate::ApiError;

/// The authenticated caller, put in the request by the access middleware.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Self)
            .ok_or_else(|| ApiError::Unauthorized("a valid bearer token is required".into()))
    }
}

/// The client's address: the TCP peer when served directly. (Behind a proxy or API Gateway the
/// peer is the proxy; see `docs/security.md`.)
#[derive(Debug, Clone)]
pub(crate) struct ClientIp(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}
