//! The access policy: the one place that decides who may do what.
//!
//! Every API route declares a [`Rule`]; the HTTP layer asks [`authorize`] before the handler
//! runs, and listing handlers ask [`sees_all_systems`] / the caller's memberships. No handler
//! checks roles itself.

use moose_domain::SystemId;

use crate::model::{Credential, OrgRole, Principal, SystemRole};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not (sign-in, token refresh).
    Public,
    /// Any signed-in caller.
    Authenticated,
    /// An organisation role of at least this.
    OrgRole(OrgRole),
    /// Read access to the system named by the route's `{system}` parameter.
    SystemRead,
    /// Management of the system named by `{system}`: its members and settings.
    SystemManage,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Not signed in, or the credential is invalid (401).
    #[error("authentication required")]
    Unauthenticated,
    /// Signed in, but not allowed (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The resource is not visible to the caller; answered like a missing one (404), so its
    /// existence does not leak.
    #[error("not found")]
    Hidden,
}

/// Whether a caller sees every system (fleet-wide roles) rather than only their memberships.
pub fn sees_all_systems(principal: &Principal) -> bool {
    principal.user.role >= OrgRole::FleetManager
}

/// Decides a request. `method_is_read` is true for GET/HEAD; `membership` is the caller's role
/// on the system the route names, if it names one and the caller has one.
pub fn authorize(
    principal: Option<&Principal>,
    rule: Rule,
    method_is_read: bool,
    system: Option<&SystemId>,
    membership: Option<SystemRole>,
) -> Result<(), Denied> {
    if rule == Rule::Public {
        return Ok(());
    }
    let principal = principal.ok_or(Denied::Unauthenticated)?;
    if principal.user.disabled {
        return Err(Denied::Unauthenticated);
    }
    if let Credential::ApiKey {
        read_only: true, ..
    } = principal.credential
        && !method_is_read
    {
        return Err(Denied::Forbidden("this API key may only read"));
    }
    let role = principal.user.role;
    match rule {
        Rule::Public | Rule::Authenticated => Ok(()),
        Rule::OrgRole(min) if role >= min => Ok(()),
        Rule::OrgRole(_) => Err(Denied::Forbidden("your role does not allow this")),
        Rule::SystemRead | Rule::SystemManage if system.is_none() => {
            Err(Denied::Forbidden("this route names no system"))
        }
        Rule::SystemRead => {
            if sees_all_systems(principal) || membership.is_some() {
                Ok(())
            } else {
                Err(Denied::Hidden)
            }
        }
        Rule::SystemManage => match membership {
            _ if sees_all_systems(principal) => Ok(()),
            Some(SystemRole::Owner | SystemRole::Installer) => Ok(()),
            Some(_) => Err(Denied::Forbidden(
                "only owners, installers and fleet managers manage a system",
            )),
            None => Err(Denied::Hidden),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContactPoints, IdentitySource, User};

    fn principal(role: OrgRole) -> Principal {
        Principal {
            user: User {
                id: moose_domain::UserId::parse("u1").unwrap(),
                email: "u@x".into(),
                name: None,
                role,
                disabled: false,
                time_zone: "UTC".into(),
                language: "en".into(),
                contacts: ContactPoints::default(),
                source: IdentitySource::Local,
            },
            credential: Credential::Session {
                session: "s".into(),
            },
        }
    }

    #[test]
    fn the_matrix() {
        let sys = SystemId::parse("A").unwrap();
        let viewer = principal(crate::OrgRole::Viewer);
        let admin = principal(crate::OrgRole::Admin);
        let fm = principal(crate::OrgRole::FleetManager);
        use Rule::*;
        assert_eq!(
            authorize(None, Authenticated, true, None, None),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(authorize(None, Public, false, None, None), Ok(()));
        assert_eq!(
            authorize(
                Some(&viewer),
                OrgRole(crate::OrgRole::Admin),
                true,
                None,
                None
            ),
            Err(Denied::Forbidden("your role does not allow this"))
        );
        assert_eq!(
            authorize(
                Some(&admin),
                OrgRole(crate::OrgRole::Admin),
                false,
                None,
                None
            ),
            Ok(())
        );
        assert_eq!(
            authorize(Some(&viewer), SystemRead, true, Some(&sys), None),
            Err(Denied::Hidden),
            "not a member: hidden"
        );
        assert_eq!(
            authorize(
                Some(&viewer),
                SystemRead,
                true,
                Some(&sys),
                Some(SystemRole::Viewer)
            ),
            Ok(())
        );
        assert!(matches!(
            authorize(
                Some(&viewer),
                SystemManage,
                false,
                Some(&sys),
                Some(SystemRole::Viewer)
            ),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authorize(
                Some(&viewer),
                SystemManage,
                false,
                Some(&sys),
                Some(SystemRole::Owner)
            ),
            Ok(())
        );
        assert_eq!(
            authorize(Some(&fm), SystemManage, false, Some(&sys), None),
            Ok(()),
            "fleet managers see all"
        );
        let mut disabled = admin.clone();
        disabled.user.disabled = true;
        assert_eq!(
            authorize(Some(&disabled), Authenticated, true, None, None),
            Err(Denied::Unauthenticated)
        );
        let mut key = admin;
        key.credential = Credential::ApiKey {
            key: "k".into(),
            read_only: true,
        };
        assert!(matches!(
            authorize(Some(&key), Authenticated, false, None, None),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authorize(Some(&key), Authenticated, true, None, None),
            Ok(())
        );
    }
}
