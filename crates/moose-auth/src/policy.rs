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

/// Decides who may acknowledge an incident: whoever services it. Viewers see incidents, but an
/// acknowledgement stops reminders and escalation for everyone, so it is reserved to the
/// system's owners, installers and technicians and to fleet-wide roles; a platform incident
/// (no system) to technicians and above. `system_role` is the caller's membership on the
/// incident's system.
pub fn authorize_acknowledge(
    principal: &Principal,
    on_system: bool,
    system_role: Option<SystemRole>,
) -> Result<(), Denied> {
    let allowed = sees_all_systems(principal)
        || if on_system {
            matches!(
                system_role,
                Some(SystemRole::Owner | SystemRole::Installer | SystemRole::Technician)
            )
        } else {
            principal.user.role >= OrgRole::Technician
        };
    match (allowed, on_system) {
        (true, _) => Ok(()),
        (false, true) => Err(Denied::Forbidden(
            "only the system's owners, installers and technicians, and fleet managers, acknowledge its incidents",
        )),
        (false, false) => Err(Denied::Forbidden(
            "only technicians and fleet managers acknowledge platform incidents",
        )),
    }
}

/// A change to one membership of a system, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberChange {
    /// The caller's own role on the system, if any.
    pub actor_role: Option<SystemRole>,
    /// Whether the caller changes their own membership.
    pub on_self: bool,
    /// The target's role before the change (`None`: not a member).
    pub current: Option<SystemRole>,
    /// The target's role after the change (`None`: revoked).
    pub new: Option<SystemRole>,
    /// How many owners the system has besides the target.
    pub other_owners: usize,
}

/// The system role a caller manages members with: administrators act as owners of every
/// system, fleet managers as installers of every system, everyone else with their membership.
fn managing_level(principal: &Principal, actor_role: Option<SystemRole>) -> Option<SystemRole> {
    let fleet = match principal.user.role {
        OrgRole::Admin => Some(SystemRole::Owner),
        OrgRole::FleetManager => Some(SystemRole::Installer),
        OrgRole::Viewer | OrgRole::Technician => None,
    };
    fleet.max(actor_role)
}

/// Decides a grant, change or revocation of a system membership:
/// - only owners and installers of the system (and fleet-wide roles) manage members;
/// - nobody grants a role above their own (an installer cannot make anyone, themself included,
///   an owner);
/// - only owners of the system and administrators change or remove an owner;
/// - a system never loses its last owner by someone else's hand (an owner may still step down).
pub fn authorize_member_change(principal: &Principal, change: MemberChange) -> Result<(), Denied> {
    let Some(level) =
        managing_level(principal, change.actor_role).filter(|l| *l >= SystemRole::Installer)
    else {
        return Err(Denied::Forbidden(
            "only owners, installers and fleet managers manage a system's members",
        ));
    };
    if change.new.is_some_and(|new| new > level) {
        return Err(Denied::Forbidden(
            "nobody grants a role above their own on the system",
        ));
    }
    if change.current == Some(SystemRole::Owner) && level < SystemRole::Owner {
        return Err(Denied::Forbidden(
            "only the system's owners and administrators change an owner's membership",
        ));
    }
    let loses_owner =
        change.current == Some(SystemRole::Owner) && change.new != Some(SystemRole::Owner);
    if loses_owner && change.other_owners == 0 && !change.on_self {
        return Err(Denied::Forbidden(
            "a system keeps at least one owner: make someone else owner first",
        ));
    }
    Ok(())
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
    fn acknowledgement() {
        let viewer = principal(crate::OrgRole::Viewer);
        let tech = principal(crate::OrgRole::Technician);
        let fm = principal(crate::OrgRole::FleetManager);
        assert!(authorize_acknowledge(&fm, true, None).is_ok());
        assert!(authorize_acknowledge(&viewer, true, Some(SystemRole::Viewer)).is_err());
        for role in [
            SystemRole::Technician,
            SystemRole::Installer,
            SystemRole::Owner,
        ] {
            assert!(authorize_acknowledge(&viewer, true, Some(role)).is_ok());
        }
        assert!(authorize_acknowledge(&viewer, false, None).is_err());
        assert!(authorize_acknowledge(&tech, false, None).is_ok());
        assert!(
            authorize_acknowledge(&tech, true, None).is_err(),
            "an org technician is no member of this system"
        );
    }

    /// Every combination of caller, target role and new role, against the rules written out.
    #[test]
    fn member_changes() {
        use SystemRole::*;
        let roles = [
            None,
            Some(Viewer),
            Some(Technician),
            Some(Installer),
            Some(Owner),
        ];
        let callers = [
            (crate::OrgRole::Viewer, None),
            (crate::OrgRole::Viewer, Some(Viewer)),
            (crate::OrgRole::Technician, Some(Technician)),
            (crate::OrgRole::Viewer, Some(Installer)),
            (crate::OrgRole::Viewer, Some(Owner)),
            (crate::OrgRole::FleetManager, None),
            (crate::OrgRole::Admin, None),
        ];
        for (org, actor_role) in callers {
            let p = principal(org);
            let level = match org {
                crate::OrgRole::Admin => Some(Owner),
                crate::OrgRole::FleetManager => Some(Installer),
                _ => None,
            }
            .max(actor_role);
            for current in roles {
                for new in roles {
                    for other_owners in [0, 1] {
                        for on_self in [false, true] {
                            let change = MemberChange {
                                actor_role,
                                on_self,
                                current,
                                new,
                                other_owners,
                            };
                            let expected = level.is_some_and(|l| l >= Installer)
                                && new.is_none_or(|n| Some(n) <= level)
                                && (current != Some(Owner) || level == Some(Owner))
                                && !(current == Some(Owner)
                                    && new != Some(Owner)
                                    && other_owners == 0
                                    && !on_self);
                            assert_eq!(
                                authorize_member_change(&p, change).is_ok(),
                                expected,
                                "{org:?}/{actor_role:?}: {change:?}"
                            );
                        }
                    }
                }
            }
        }
        let installer = principal(crate::OrgRole::Viewer);
        let promote_self = MemberChange {
            actor_role: Some(Installer),
            on_self: true,
            current: Some(Installer),
            new: Some(Owner),
            other_owners: 1,
        };
        assert!(authorize_member_change(&installer, promote_self).is_err());
        let remove_owner = MemberChange {
            actor_role: Some(Installer),
            on_self: false,
            current: Some(Owner),
            new: None,
            other_owners: 0,
        };
        assert!(authorize_member_change(&installer, remove_owner).is_err());
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
