//! Who may see and do what in Moose.
//!
//! Identities come from three places: Moose's own accounts (local mode, the default; Argon2id
//! passwords, short-lived HS256 access tokens bound to revocable sessions), Supabase access
//! tokens (when `SUPABASE_URL` is set; JWKS or legacy HS256), and API keys for machines.
//! Roles are organisation-wide ([`OrgRole`]) and per system ([`SystemRole`]); [`policy`] is the
//! one place that turns them into decisions. Everything is kept in the store through the
//! `Store` trait, so it works the same on SQLite and DynamoDB. See `docs/security.md`.

mod crypto;
mod model;
mod password;
pub mod policy;
mod repo;
mod service;
pub mod supabase;
mod throttle;
pub mod tokens;

pub use model::{
    ContactPoints, Credential, IdentitySource, Membership, OrgRole, Principal, SystemRole, User,
};
pub use password::{MIN_PASSWORD_LEN, hash_password, verify_password};
pub use policy::{Denied, MemberChange, Rule};
pub use repo::{Activity, StoredApiKey};
pub use service::{
    API_KEY_PREFIX, AuthError, AuthService, AuthSettings, MAX_EMAIL_LEN, MAX_PASSWORD_LEN,
    PasswordAttempt, ProfilePatch, REUSE_GRACE_SECS, TokenPair, check_webhook_url, valid_email,
};
pub use throttle::{PER_ACCOUNT, PER_ADDRESS, WINDOW};
