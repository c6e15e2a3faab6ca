//! Communities (servers): creation of servers and channels (`servers`), what each role may do,
//! invitations, joining, leaving and member management, and the "who may see whom" rule the
//! other areas use.
//!
//! Visibility rule: a server exists for a user only if they are a member; a non-member asking
//! about it gets [`CommunitiesError::ServerNotFound`] (or [`ServersError::ServerNotFound`]). A
//! member whose role lacks the permission gets [`CommunitiesError::Forbidden`].

mod invitations;
mod members;
mod permissions;
mod servers;

pub use invitations::{Invitation, InvitationPreview, NewInvitation};
pub use permissions::{Permission, RolePermissions};
pub use servers::{JoinedServer, NewChannel, NewServer, ServersError};
pub(crate) use servers::{insert_member, parse_stored};

use crate::validate::FieldErrors;
use crate::{Control, ControlError, Role};

/// Why a community operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommunitiesError {
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// No such server, or the actor is not a member of it.
    #[error("server not found")]
    ServerNotFound,
    /// The actor is a member, but their role lacks the permission.
    #[error("your role in this server does not allow this")]
    Forbidden,
    /// No such member in the server.
    #[error("member not found")]
    MemberNotFound,
    /// No such invitation (or one the actor may not see).
    #[error("invitation not found")]
    InvitationNotFound,
    /// The invitation's expiry has passed.
    #[error("the invitation has expired")]
    InvitationExpired,
    /// The invitation was used as many times as it allows.
    #[error("the invitation has no uses left")]
    InvitationExhausted,
    /// The invitation was revoked.
    #[error("the invitation was revoked")]
    InvitationRevoked,
    /// The user is already a member of the server.
    #[error("already a member")]
    AlreadyAMember,
    /// The user is banned from the server.
    #[error("banned from this server")]
    Banned,
    /// The owner cannot leave their own server.
    #[error("the owner cannot leave the server")]
    OwnerCannotLeave,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl CommunitiesError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CommunitiesError::Invalid(_) => "invalid_request",
            CommunitiesError::ServerNotFound => "server_not_found",
            CommunitiesError::Forbidden => "forbidden",
            CommunitiesError::MemberNotFound => "member_not_found",
            CommunitiesError::InvitationNotFound => "invitation_not_found",
            CommunitiesError::InvitationExpired => "invitation_expired",
            CommunitiesError::InvitationExhausted => "invitation_exhausted",
            CommunitiesError::InvitationRevoked => "invitation_revoked",
            CommunitiesError::AlreadyAMember => "already_a_member",
            CommunitiesError::Banned => "banned",
            CommunitiesError::OwnerCannotLeave => "owner_cannot_leave",
            CommunitiesError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for CommunitiesError {
    fn from(e: sqlx::Error) -> Self {
        CommunitiesError::Storage(e.into())
    }
}

impl Control {
    /// The actor's role in `server_id` if it carries `permission`. Non-members (and malformed
    /// ids) get `ServerNotFound`; members without the permission get `Forbidden`.
    pub(crate) async fn require_permission(
        &self,
        actor: &str,
        server_id: &str,
        permission: Permission,
    ) -> Result<Role, CommunitiesError> {
        if !crate::is_valid_id(server_id) {
            return Err(CommunitiesError::ServerNotFound);
        }
        match self.member_role(server_id, actor).await? {
            None => Err(CommunitiesError::ServerNotFound),
            Some(role) if permissions::role_has(role, permission) => Ok(role),
            Some(_) => Err(CommunitiesError::Forbidden),
        }
    }

    /// Whether `viewer` may see `target` (their profile, devices, key packages): the same user,
    /// or a member of a server they share.
    pub async fn can_see_user(&self, viewer: &str, target: &str) -> Result<bool, ControlError> {
        if viewer == target {
            return Ok(true);
        }
        if !crate::epochs::is_valid_principal(target) {
            return Ok(false);
        }
        let shared: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM members a JOIN members b ON a.server_id = b.server_id \
             WHERE a.user_id = $1 AND b.user_id = $2 LIMIT 1",
        )
        .bind(viewer)
        .bind(target)
        .fetch_optional(self.pool())
        .await?;
        Ok(shared.is_some())
    }
}
