//! Identities and roles.

use std::fmt;
use std::str::FromStr;

use moose_domain::{SystemId, UserId};
use serde::{Deserialize, Serialize};

/// A user's role in the organisation that runs Moose.
///
/// Ordered by power: `Viewer < Technician < FleetManager < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Sees the systems they are members of.
    Viewer,
    /// Sees and services the systems they are members of.
    Technician,
    /// Sees and manages every system and its members.
    FleetManager,
    /// Everything, including users and API keys.
    Admin,
}

/// A user's role on one PV system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemRole {
    /// Sees the system.
    Viewer,
    /// Sees and services the system.
    Technician,
    /// Installed the system; manages its members.
    Installer,
    /// Owns the system; manages its members.
    Owner,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $name:literal),+ }) => {
        impl $ty {
            /// The role's name, as in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!("unknown role {other:?}; use one of: {}", [$($name),+].join(", "))),
                }
            }
        }
    };
}

string_enum!(OrgRole { Viewer => "viewer", Technician => "technician", FleetManager => "fleet_manager", Admin => "admin" });
string_enum!(SystemRole { Viewer => "viewer", Technician => "technician", Installer => "installer", Owner => "owner" });

/// Where a user's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// A local account with a password.
    Local,
    /// A Supabase user (`sub` of its access tokens).
    Supabase,
}

/// Where a user wants to be told about things.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactPoints {
    /// E-mail for notifications (defaults to the sign-in address).
    pub email: Option<String>,
    /// Phone number for SMS, E.164 (`+43…`).
    pub phone: Option<String>,
    /// HTTPS webhook URL.
    pub webhook_url: Option<String>,
}

/// A user record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Sign-in e-mail (lower-cased).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Organisation role.
    pub role: OrgRole,
    /// Disabled users cannot sign in and their tokens stop working.
    pub disabled: bool,
    /// IANA time zone for quiet hours and reports.
    pub time_zone: String,
    /// Preferred language (`en`, `de`, …).
    pub language: String,
    /// Notification contact points.
    pub contacts: ContactPoints,
    /// Local or Supabase.
    pub source: IdentitySource,
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A Moose-issued access token of session `session`.
    Session {
        /// Session id.
        session: String,
    },
    /// A Supabase access token.
    Supabase,
    /// An API key.
    ApiKey {
        /// Key id.
        key: String,
        /// Whether the key may only read.
        read_only: bool,
    },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user (for API keys: a synthetic user carrying the key's role).
    pub user: User,
    /// How they authenticated.
    pub credential: Credential,
}

/// A membership of one user on one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The system.
    pub system: SystemId,
    /// The user.
    pub user: UserId,
    /// The role.
    pub role: SystemRole,
}
