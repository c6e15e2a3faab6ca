//! Servers, channels and members: creation, listing and the permission rules around them.
//!
//! Visibility rule: a server exists for a user only if they are a member of it. Anything a
//! non-member asks about answers [`ServersError::ServerNotFound`], never "forbidden".

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{new_id, now_millis};
use crate::outbox::{Audience, Write, kind};
use crate::validate::{FieldErrors, check_id, check_name, is_valid_id};
use crate::{Ban, Channel, ChannelKind, Control, ControlError, Member, Role, Server};

/// Input of [`Control::create_server`].
#[derive(Clone, Debug)]
pub struct NewServer {
    /// Id to use; generated (`srv_<random>`) when `None`.
    pub id: Option<String>,
    /// Display name, 1-100 characters (trimmed).
    pub name: String,
}

/// Input of [`Control::create_channel`].
#[derive(Clone, Debug)]
pub struct NewChannel {
    /// Id to use; generated (`ch_<random>`) when `None`.
    pub id: Option<String>,
    /// Display name, 1-100 characters (trimmed).
    pub name: String,
    /// What the channel carries.
    pub kind: ChannelKind,
}

/// A server together with the asking user's role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JoinedServer {
    /// The server.
    #[serde(flatten)]
    pub server: Server,
    /// The user's role in it.
    pub role: Role,
}

/// Why a server, channel or member operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServersError {
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// No such server, or the actor is not a member of it.
    #[error("server not found")]
    ServerNotFound,
    /// The actor is a member, but their role does not allow this.
    #[error("insufficient role")]
    Forbidden,
    /// The requested id is already used.
    #[error("id already taken")]
    IdTaken,
    /// The user is already a member of the server.
    #[error("already a member")]
    AlreadyAMember,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl ServersError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ServersError::Invalid(_) => "invalid_request",
            ServersError::ServerNotFound => "server_not_found",
            ServersError::Forbidden => "forbidden",
            ServersError::IdTaken => "id_taken",
            ServersError::AlreadyAMember => "already_a_member",
            ServersError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ServersError {
    fn from(e: sqlx::Error) -> Self {
        ServersError::Storage(e.into())
    }
}

impl Control {
    /// Creates a server owned by `owner_user_id`, who becomes its first member (role owner).
    pub async fn create_server(
        &self,
        owner_user_id: &str,
        new: NewServer,
    ) -> Result<Server, ServersError> {
        let mut errors = FieldErrors::default();
        if let Some(id) = &new.id {
            check_id(&mut errors, "id", id);
        }
        let name = check_name(&mut errors, "name", &new.name);
        errors.into_result().map_err(ServersError::Invalid)?;

        let server = Server {
            id: new.id.unwrap_or_else(|| new_id("srv")),
            name,
            owner_user_id: owner_user_id.to_owned(),
            created_at: now_millis(),
        };
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO servers (id, name, owner_user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&server.id)
        .bind(&server.name)
        .bind(&server.owner_user_id)
        .bind(server.created_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServersError::IdTaken);
        }
        insert_member(
            &mut tx,
            &server.id,
            owner_user_id,
            Role::Owner,
            server.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(server)
    }

    /// Servers `user_id` is a member of, oldest first, with their role in each.
    pub async fn servers_of(&self, user_id: &str) -> Result<Vec<JoinedServer>, ControlError> {
        let rows = sqlx::query(
            "SELECT s.id, s.name, s.owner_user_id, s.created_at, m.role \
             FROM members m JOIN servers s ON s.id = m.server_id \
             WHERE m.user_id = $1 ORDER BY s.created_at, s.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(JoinedServer {
                    server: server_from_row(row)?,
                    role: parse_stored(row.try_get::<String, _>("role")?)?,
                })
            })
            .collect()
    }

    /// `user_id`'s role in `server_id`, or `None` if they are not a member (or it does not exist).
    pub async fn member_role(
        &self,
        server_id: &str,
        user_id: &str,
    ) -> Result<Option<Role>, ControlError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM members WHERE server_id = $1 AND user_id = $2")
                .bind(server_id)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        role.map(parse_stored).transpose()
    }

    /// Creates a channel in `server_id`; `actor` must be its owner or a moderator.
    pub async fn create_channel(
        &self,
        actor: &str,
        server_id: &str,
        new: NewChannel,
    ) -> Result<Channel, ServersError> {
        let mut errors = FieldErrors::default();
        if let Some(id) = &new.id {
            check_id(&mut errors, "id", id);
        }
        let name = check_name(&mut errors, "name", &new.name);
        errors.into_result().map_err(ServersError::Invalid)?;
        self.require_role(actor, server_id, Role::can_manage)
            .await?;

        let channel = Channel {
            id: new.id.unwrap_or_else(|| new_id("ch")),
            server_id: server_id.to_owned(),
            name,
            kind: new.kind,
            created_at: now_millis(),
        };
        let inserted = sqlx::query(
            "INSERT INTO channels (id, server_id, name, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&channel.id)
        .bind(&channel.server_id)
        .bind(&channel.name)
        .bind(channel.kind.as_str())
        .bind(channel.created_at)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServersError::IdTaken);
        }
        Ok(channel)
    }

    /// Channels of `server_id`, oldest first; `actor` must be a member.
    pub async fn channels_of(
        &self,
        actor: &str,
        server_id: &str,
    ) -> Result<Vec<Channel>, ServersError> {
        self.require_role(actor, server_id, |_| true).await?;
        let rows = sqlx::query(
            "SELECT id, server_id, name, kind, created_at FROM channels \
             WHERE server_id = $1 ORDER BY created_at, id",
        )
        .bind(server_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(channel_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The channel `channel_id`, whoever asks (no visibility check).
    pub async fn channel(&self, channel_id: &str) -> Result<Option<Channel>, ControlError> {
        let row =
            sqlx::query("SELECT id, server_id, name, kind, created_at FROM channels WHERE id = $1")
                .bind(channel_id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(channel_from_row).transpose()
    }

    /// Adds `user_id` to `server_id` with `role` (default member).
    ///
    /// `actor` must be the owner or a moderator; only the owner may add moderators, and the
    /// owner role cannot be granted this way.
    pub async fn add_member(
        &self,
        actor: &str,
        server_id: &str,
        user_id: &str,
        role: Option<Role>,
    ) -> Result<Member, ServersError> {
        let role = role.unwrap_or(Role::Member);
        let mut errors = FieldErrors::default();
        if !crate::epochs::is_valid_principal(user_id) {
            errors.add("user_id", "must match [A-Za-z0-9_.-]{1,64}");
        }
        if role == Role::Owner {
            errors.add("role", "must be member or moderator");
        }
        errors.into_result().map_err(ServersError::Invalid)?;
        let actor_role = self
            .require_role(actor, server_id, Role::can_manage)
            .await?;
        if role == Role::Moderator && actor_role != Role::Owner {
            return Err(ServersError::Forbidden);
        }

        let joined_at = now_millis();
        let mut tx = self.write().await?;
        if !insert_member(&mut tx, server_id, user_id, role, joined_at).await? {
            return Err(ServersError::AlreadyAMember);
        }
        tx.commit().await?;
        Ok(Member {
            server_id: server_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
            joined_at,
        })
    }

    /// Bans `user_id` from `server_id` until `until` (unix ms; `None` = permanent), replacing
    /// any earlier ban. Banned users are refused admission to the server's rooms.
    ///
    /// No permission check: callers (the moderation API, tests) decide who may ban.
    pub async fn ban_user(
        &self,
        server_id: &str,
        user_id: &str,
        until: Option<i64>,
        reason: Option<&str>,
    ) -> Result<Ban, ControlError> {
        sqlx::query(
            "INSERT INTO bans (server_id, user_id, until, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, user_id) DO UPDATE \
             SET until = excluded.until, reason = excluded.reason, created_at = excluded.created_at",
        )
        .bind(server_id)
        .bind(user_id)
        .bind(until)
        .bind(reason)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(Ban {
            server_id: server_id.to_owned(),
            user_id: user_id.to_owned(),
            until,
            reason: reason.map(str::to_owned),
        })
    }

    /// The actor's role in the server if it satisfies `allowed`. Non-members (and malformed
    /// server ids) get `ServerNotFound`; members with too low a role get `Forbidden`.
    async fn require_role(
        &self,
        actor: &str,
        server_id: &str,
        allowed: impl Fn(Role) -> bool,
    ) -> Result<Role, ServersError> {
        if !is_valid_id(server_id) {
            return Err(ServersError::ServerNotFound);
        }
        match self.member_role(server_id, actor).await? {
            None => Err(ServersError::ServerNotFound),
            Some(role) if allowed(role) => Ok(role),
            Some(_) => Err(ServersError::Forbidden),
        }
    }
}

/// Inserts a member row unless one exists, with its `member_added` event; returns whether it
/// inserted. Every way into a server goes through here, so every node's realtime audience
/// learns of the new member in outbox order.
pub(crate) async fn insert_member(
    tx: &mut Write<'_>,
    server_id: &str,
    user_id: &str,
    role: Role,
    joined_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO members (server_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (server_id, user_id) DO NOTHING",
    )
    .bind(server_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(joined_at)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    tx.append(
        kind::MEMBER_ADDED,
        Audience::User { user_id },
        &serde_json::json!({ "server_id": server_id, "user_id": user_id, "role": role.as_str() }),
        joined_at,
    )
    .await?;
    Ok(true)
}

fn server_from_row(row: &AnyRow) -> Result<Server, ControlError> {
    Ok(Server {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner_user_id: row.try_get("owner_user_id")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn channel_from_row(row: &AnyRow) -> Result<Channel, ControlError> {
    Ok(Channel {
        id: row.try_get("id")?,
        server_id: row.try_get("server_id")?,
        name: row.try_get("name")?,
        kind: parse_stored(row.try_get::<String, _>("kind")?)?,
        created_at: row.try_get("created_at")?,
    })
}

/// Parses an enum stored as text; a mismatch means the database holds something we never write.
pub(crate) fn parse_stored<T: std::str::FromStr>(value: String) -> Result<T, ControlError> {
    value
        .parse()
        .map_err(|_| ControlError::Corrupt(format!("unexpected stored value {value:?}")))
}
