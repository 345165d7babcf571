//! Validated identifiers.
//!
//! Solar.web identifies systems and devices with GUIDs, Supabase identifies users with UUIDs,
//! and local accounts get UUIDs too. We keep them as validated strings rather than parsing into
//! a UUID type: keys must round-trip byte for byte with what the old Python system wrote, and
//! the simulator is free to use other opaque ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest id we accept. DynamoDB keys may be up to 2 KiB; ids are far shorter in practice,
/// and a bound keeps hostile input out of keys and logs.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id was empty.
    #[error("{kind} id must not be empty")]
    Empty {
        /// Which kind of id was being parsed.
        kind: &'static str,
    },
    /// The id was longer than [`MAX_ID_LEN`].
    #[error("{kind} id is {len} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Which kind of id was being parsed.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The id contained a character outside `[A-Za-z0-9._:-]`.
    #[error(
        "{kind} id contains {found:?}; only letters, digits, '.', '_', ':' and '-' are allowed"
    )]
    BadCharacter {
        /// Which kind of id was being parsed.
        kind: &'static str,
        /// The first offending character.
        found: char,
    },
}

fn validate(kind: &'static str, raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: raw.len(),
        });
    }
    // '#' is the key separator of the single-table layout, so it can never appear in an id.
    if let Some(found) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        return Err(IdError::BadCharacter { kind, found });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an id.
            pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                validate($kind, &raw)?;
                Ok(Self(raw))
            }

            /// The id as it appears in keys and on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A PV system, as identified by Solar.web (`pvSystemId`).
    SystemId,
    "system"
);
id_type!(
    /// A device (inverter, meter, battery, …) of a PV system, as identified by Solar.web.
    DeviceId,
    "device"
);
id_type!(
    /// A Moose user (the Supabase `sub`, or a locally issued UUID).
    UserId,
    "user"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_guids_and_simple_ids() {
        let id = SystemId::parse("0b6c1a52-6f0e-4d2a-9f55-2b7d6c1e9a10").unwrap();
        assert_eq!(id.as_str(), "0b6c1a52-6f0e-4d2a-9f55-2b7d6c1e9a10");
        assert!(DeviceId::parse("pilot-0.6e-123_0000000000").is_ok());
    }

    #[test]
    fn rejects_separator_and_empty_and_long() {
        assert_eq!(
            SystemId::parse("a#b"),
            Err(IdError::BadCharacter {
                kind: "system",
                found: '#'
            })
        );
        assert_eq!(UserId::parse(""), Err(IdError::Empty { kind: "user" }));
        assert!(matches!(
            DeviceId::parse("x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn serde_validates() {
        let ok: SystemId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.to_string(), "abc");
        assert!(serde_json::from_str::<SystemId>("\"a b\"").is_err());
    }
}
