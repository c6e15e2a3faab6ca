//! Members of a server: listing, leaving, removal and role changes; the caller's channels.

use sqlx::Row;

use super::servers::{channel_from_row, parse_stored};
use super::{CommunitiesError, Permission, RolePermissions, permissions};
use crate::devices::Removal;
use crate::epochs::is_valid_principal;
use crate::outbox::{Audience, kind};
use crate::validate::FieldErrors;
use crate::{Channel, Control, ControlError, Member, Role};

impl Control {
    /// The roles of `server_id` with their permissions; the actor must be a member.
    pub async fn roles_of(
        &self,
        actor: &str,
        server_id: &str,
    ) -> Result<Vec<RolePermissions>, CommunitiesError> {
        self.require_permission(actor, server_id, Permission::ViewChannels)
            .await?;
        Ok(permissions::role_table())
    }

    /// Members of `server_id`, in join order; the actor must be a member.
    pub async fn members_of(
        &self,
        actor: &str,
        server_id: &str,
    ) -> Result<Vec<Member>, CommunitiesError> {
        self.require_permission(actor, server_id, Permission::ViewChannels)
            .await?;
        let rows = sqlx::query(
            "SELECT server_id, user_id, role, joined_at FROM members WHERE server_id = $1 \
             ORDER BY joined_at, user_id",
        )
        .bind(server_id)
        .fetch_all(self.pool())
        .await?;
        let members = rows
            .iter()
            .map(|row| {
                Ok(Member {
                    server_id: row.try_get("server_id")?,
                    user_id: row.try_get("user_id")?,
                    role: parse_stored(row.try_get::<String, _>("role")?)?,
                    joined_at: row.try_get("joined_at")?,
                })
            })
            .collect::<Result<_, ControlError>>()?;
        Ok(members)
    }

    /// The actor leaves `server_id`. The owner cannot leave (`OwnerCannotLeave`). Their devices
    /// get removal proposals in the server's channel groups (as for [`Control::remove_member`]).
    pub async fn leave_server(&self, actor: &str, server_id: &str) -> Result<(), CommunitiesError> {
        let role = self
            .require_permission(actor, server_id, Permission::ViewChannels)
            .await?;
        if role == Role::Owner {
            return Err(CommunitiesError::OwnerCannotLeave);
        }
        self.delete_member(server_id, actor, "left").await
    }

    /// Removes `user_id` from `server_id`. The actor needs `manage_members`; the owner cannot
    /// be removed, and moderators may remove members only. The user's devices get removal
    /// proposals in every channel group of the server they are in.
    pub async fn remove_member(
        &self,
        actor: &str,
        server_id: &str,
        user_id: &str,
    ) -> Result<(), CommunitiesError> {
        let actor_role = self
            .require_permission(actor, server_id, Permission::ManageMembers)
            .await?;
        if !is_valid_principal(user_id) {
            return Err(CommunitiesError::MemberNotFound);
        }
        let target = self
            .member_role(server_id, user_id)
            .await?
            .ok_or(CommunitiesError::MemberNotFound)?;
        let allowed = match target {
            Role::Owner => false,
            Role::Moderator => actor_role == Role::Owner,
            Role::Member => true,
        };
        if !allowed {
            return Err(CommunitiesError::Forbidden);
        }
        self.delete_member(server_id, user_id, "removed").await
    }

    /// Sets `user_id`'s role in `server_id` to `member` or `moderator`. The actor needs
    /// `manage_roles`; the owner's role cannot change.
    pub async fn set_member_role(
        &self,
        actor: &str,
        server_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<Member, CommunitiesError> {
        let mut errors = FieldErrors::default();
        if !is_valid_principal(user_id) {
            errors.add("user_id", "must match [A-Za-z0-9_.-]{1,64}");
        }
        if role == Role::Owner {
            errors.add("role", "must be member or moderator");
        }
        errors.into_result().map_err(CommunitiesError::Invalid)?;
        self.require_permission(actor, server_id, Permission::ManageRoles)
            .await?;
        let row = sqlx::query(
            "SELECT role, joined_at FROM members WHERE server_id = $1 AND user_id = $2",
        )
        .bind(server_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(CommunitiesError::MemberNotFound)?;
        let current: Role = parse_stored(row.try_get::<String, _>("role")?)?;
        if current == Role::Owner {
            return Err(CommunitiesError::Forbidden);
        }
        sqlx::query("UPDATE members SET role = $1 WHERE server_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(server_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(Member {
            server_id: server_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
            joined_at: row.try_get("joined_at")?,
        })
    }

    /// Every channel of every server `user_id` is a member of, by server then creation order.
    pub async fn my_channels(&self, user_id: &str) -> Result<Vec<Channel>, ControlError> {
        let rows = sqlx::query(
            "SELECT c.id, c.server_id, c.name, c.kind, c.created_at \
             FROM members m JOIN channels c ON c.server_id = m.server_id \
             WHERE m.user_id = $1 ORDER BY c.server_id, c.created_at, c.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    /// Deletes the member row with its `member_removed` event (which ends the user's live
    /// sessions in the server's rooms and channels on every node), then proposes removing the
    /// user's devices from the server's channel groups.
    async fn delete_member(
        &self,
        server_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<(), CommunitiesError> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM members WHERE server_id = $1 AND user_id = $2")
            .bind(server_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CommunitiesError::MemberNotFound);
        }
        let now = self.now();
        tx.append(
            kind::MEMBER_REMOVED,
            Audience::User { user_id },
            &serde_json::json!({ "server_id": server_id, "user_id": user_id, "reason": reason }),
            now,
        )
        .await?;
        tx.commit().await?;
        self.propose_removals(
            Removal::UserInServer { user_id, server_id },
            "no longer a member of the server",
        )
        .await;
        Ok(())
    }
}
