//! Invitations: an unguessable token that lets its holder join a server, with an optional
//! expiry and use limit, revocable by its creator or by anyone who manages invitations.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::servers::insert_member;
use super::{CommunitiesError, Permission, permissions::role_has};
use crate::validate::FieldErrors;
use crate::{Control, ControlError, Member, Role};

/// Default lifetime of an invitation: 7 days.
pub const DEFAULT_INVITATION_TTL_SECS: u64 = 7 * 24 * 3600;
/// Longest lifetime of an invitation: 30 days.
pub const MAX_INVITATION_TTL_SECS: u64 = 30 * 24 * 3600;
/// Most uses one invitation may allow.
pub const MAX_INVITATION_USES: u32 = 1000;
/// Length of an invitation token (alphanumerics, about 143 bits).
const TOKEN_LEN: usize = 24;

/// Input of [`Control::create_invitation`].
#[derive(Clone, Debug, Default)]
pub struct NewInvitation {
    /// Lifetime in seconds, 60 to 30 days; default 7 days.
    pub expires_in_secs: Option<u64>,
    /// How many joins it allows, 1-1000; `None` is unlimited.
    pub max_uses: Option<u32>,
}

/// An invitation to a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Invitation {
    /// The secret token (share it to invite).
    pub token: String,
    /// The server it joins.
    pub server_id: String,
    /// Who created it.
    pub created_by: String,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Expiry, unix milliseconds.
    pub expires_at: i64,
    /// Most joins it allows; `null` is unlimited.
    pub max_uses: Option<i64>,
    /// Joins so far.
    pub uses: i64,
    /// When it was revoked; `null` while usable.
    pub revoked_at: Option<i64>,
}

/// What [`Control::preview_invitation`] shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvitationPreview {
    /// The server it joins.
    pub server_id: String,
    /// The server's name.
    pub server_name: String,
    /// How many members the server has.
    pub member_count: i64,
    /// Expiry, unix milliseconds.
    pub expires_at: i64,
    /// Joins left; `null` is unlimited.
    pub uses_left: Option<i64>,
}

impl Control {
    /// Creates an invitation to `server_id`; the actor needs `create_invitations`.
    pub async fn create_invitation(
        &self,
        actor: &str,
        server_id: &str,
        new: NewInvitation,
    ) -> Result<Invitation, CommunitiesError> {
        let mut errors = FieldErrors::default();
        let ttl = new.expires_in_secs.unwrap_or(DEFAULT_INVITATION_TTL_SECS);
        if !(60..=MAX_INVITATION_TTL_SECS).contains(&ttl) {
            errors.add("expires_in_secs", "must be 60 to 2592000 (30 days)");
        }
        if new
            .max_uses
            .is_some_and(|m| m == 0 || m > MAX_INVITATION_USES)
        {
            errors.add("max_uses", "must be 1-1000 or absent");
        }
        errors.into_result().map_err(CommunitiesError::Invalid)?;
        self.require_permission(actor, server_id, Permission::CreateInvitations)
            .await?;

        let now = self.now();
        let ttl_millis = i64::try_from(ttl).unwrap_or(i64::MAX / 1000) * 1000;
        let invitation = Invitation {
            token: new_token(),
            server_id: server_id.to_owned(),
            created_by: actor.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(ttl_millis),
            max_uses: new.max_uses.map(i64::from),
            uses: 0,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO invitations (token, server_id, created_by, created_at, expires_at, \
             max_uses, uses) VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&invitation.token)
        .bind(&invitation.server_id)
        .bind(&invitation.created_by)
        .bind(invitation.created_at)
        .bind(invitation.expires_at)
        .bind(invitation.max_uses)
        .execute(self.pool())
        .await?;
        Ok(invitation)
    }

    /// Invitations of `server_id`, newest first: all of them for actors who manage
    /// invitations, otherwise only the actor's own.
    pub async fn invitations_of(
        &self,
        actor: &str,
        server_id: &str,
    ) -> Result<Vec<Invitation>, CommunitiesError> {
        let role = self
            .require_permission(actor, server_id, Permission::CreateInvitations)
            .await?;
        let all = role_has(role, Permission::ManageInvitations);
        let rows = sqlx::query(
            "SELECT token, server_id, created_by, created_at, expires_at, max_uses, uses, \
             revoked_at FROM invitations WHERE server_id = $1 \
             AND ($2 = 1 OR created_by = $3) ORDER BY created_at DESC, token",
        )
        .bind(server_id)
        .bind(i64::from(all))
        .bind(actor)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(invitation_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Revokes an invitation of `server_id`; the actor must have created it or manage
    /// invitations. Revoking twice is harmless. Unknown tokens are `InvitationNotFound`.
    pub async fn revoke_invitation(
        &self,
        actor: &str,
        server_id: &str,
        token: &str,
    ) -> Result<Invitation, CommunitiesError> {
        let role = self
            .require_permission(actor, server_id, Permission::CreateInvitations)
            .await?;
        let mut invitation = self
            .invitation(token)
            .await?
            .filter(|i| i.server_id == server_id)
            .ok_or(CommunitiesError::InvitationNotFound)?;
        if invitation.created_by != actor && !role_has(role, Permission::ManageInvitations) {
            return Err(CommunitiesError::InvitationNotFound);
        }
        if invitation.revoked_at.is_none() {
            let now = self.now();
            sqlx::query(
                "UPDATE invitations SET revoked_at = $1 WHERE token = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(token)
            .execute(self.pool())
            .await?;
            invitation.revoked_at = Some(now);
        }
        Ok(invitation)
    }

    /// What an invitation leads to, for its holder to decide before accepting. Whoever holds
    /// the token may look; unusable invitations answer as [`Control::accept_invitation`] would.
    pub async fn preview_invitation(
        &self,
        token: &str,
    ) -> Result<InvitationPreview, CommunitiesError> {
        let invitation = self
            .invitation(token)
            .await?
            .ok_or(CommunitiesError::InvitationNotFound)?;
        check_usable(&invitation, self.now())?;
        let server_name: String = sqlx::query_scalar("SELECT name FROM servers WHERE id = $1")
            .bind(&invitation.server_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(CommunitiesError::InvitationNotFound)?;
        let member_count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE server_id = $1")
                .bind(&invitation.server_id)
                .fetch_one(self.pool())
                .await?;
        Ok(InvitationPreview {
            server_id: invitation.server_id,
            server_name,
            member_count,
            expires_at: invitation.expires_at,
            uses_left: invitation.max_uses.map(|m| m - invitation.uses),
        })
    }

    /// Joins the invitation's server as a member, using one of its uses.
    ///
    /// Refusals, in order: unknown token `InvitationNotFound`, revoked `InvitationRevoked`,
    /// expired `InvitationExpired`, no uses left `InvitationExhausted`, a ban in force `Banned`,
    /// already a member `AlreadyAMember` (no use is consumed by a refusal). Concurrent joins
    /// never exceed `max_uses`.
    pub async fn accept_invitation(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<Member, CommunitiesError> {
        let invitation = self
            .invitation(token)
            .await?
            .ok_or(CommunitiesError::InvitationNotFound)?;
        let now = self.now();
        check_usable(&invitation, now)?;
        let banned: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM bans WHERE server_id = $1 AND user_id = $2 \
             AND (until IS NULL OR until > $3)",
        )
        .bind(&invitation.server_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if banned.is_some() {
            return Err(CommunitiesError::Banned);
        }
        if self
            .member_role(&invitation.server_id, user_id)
            .await?
            .is_some()
        {
            return Err(CommunitiesError::AlreadyAMember);
        }

        // Write first, so SQLite takes its write lock at once (no read-to-write upgrade).
        let mut tx = self.write().await?;
        let used = sqlx::query(
            "UPDATE invitations SET uses = uses + 1 WHERE token = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
        )
        .bind(token)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() == 0 {
            tx.rollback().await?;
            // Lost a race for the last use (or it was revoked meanwhile): say which.
            let current = self
                .invitation(token)
                .await?
                .ok_or(CommunitiesError::InvitationNotFound)?;
            check_usable(&current, now)?;
            return Err(CommunitiesError::InvitationExhausted);
        }
        if !insert_member(&mut tx, &invitation.server_id, user_id, Role::Member, now).await? {
            tx.rollback().await?;
            return Err(CommunitiesError::AlreadyAMember);
        }
        tx.commit().await?;
        Ok(Member {
            server_id: invitation.server_id,
            user_id: user_id.to_owned(),
            role: Role::Member,
            joined_at: now,
        })
    }

    async fn invitation(&self, token: &str) -> Result<Option<Invitation>, ControlError> {
        if token.is_empty() || token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT token, server_id, created_by, created_at, expires_at, max_uses, uses, \
             revoked_at FROM invitations WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }
}

fn check_usable(invitation: &Invitation, now: i64) -> Result<(), CommunitiesError> {
    if invitation.revoked_at.is_some() {
        Err(CommunitiesError::InvitationRevoked)
    } else if invitation.expires_at <= now {
        Err(CommunitiesError::InvitationExpired)
    } else if invitation.max_uses.is_some_and(|m| invitation.uses >= m) {
        Err(CommunitiesError::InvitationExhausted)
    } else {
        Ok(())
    }
}

fn new_token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(TOKEN_LEN)
        .map(char::from)
        .collect()
}

fn invitation_from_row(row: &AnyRow) -> Result<Invitation, ControlError> {
    Ok(Invitation {
        token: row.try_get("token")?,
        server_id: row.try_get("server_id")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
