//! Moose's domain vocabulary: identifiers, timestamps, the single-table key schema, and the
//! values parsed once at the boundary that security depends on (a map tile URL template whose
//! origin goes into a Content-Security-Policy, the reverse proxies whose forwarded-for is
//! believed).
//!
//! This crate performs no I/O. Everything that names a PV system, a device or a user, and
//! every partition/sort key Moose writes, is built here so that the layout documented in
//! `docs/data-model.md` has exactly one implementation.

pub mod ids;
pub mod keys;
pub mod net;
mod secret;
pub mod tiles;
pub mod time;

pub use ids::{DeviceId, IdError, SystemId, UserId};
pub use net::{ProxyListError, TrustedProxies};
pub use secret::{REDACTED, Secret};
pub use tiles::{TileUrl, TileUrlError};
