//! Server-originated proposals, and reading a channel's membership and welcomes.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::members::{is_member_at, members_at};
use super::{AccessError, is_valid_principal};
use super::{DeviceRef, MemberDevice, Membership, Proposal, ProposalError, WelcomeMessage};
use crate::db::new_id;
use crate::outbox::{Audience, kind};
use crate::{Control, FieldErrors, Role};

/// Pending proposals of a channel, oldest first.
pub(crate) async fn pending<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    channel_id: &str,
) -> Result<Vec<Proposal>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, channel_id, kind, user_id, device_id, reason, created_at \
         FROM membership_proposals WHERE channel_id = $1 AND committed_epoch IS NULL \
         ORDER BY created_at, id",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(proposal_from_row).collect()
}

fn proposal_from_row(row: &AnyRow) -> Result<Proposal, sqlx::Error> {
    Ok(Proposal {
        id: row.try_get("id")?,
        channel_id: row.try_get("channel_id")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        device_id: row.try_get("device_id")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Control {
    /// Records a server-originated proposal to remove `device` from `channel_id` (moderation, a
    /// revoked device). It stays pending until a commit lists it in `proposal_ids` and removes
    /// the device; commits omitting it are refused. Idempotent: an existing pending removal of
    /// the same device is returned as is.
    ///
    /// No permission check (see [`Control::propose_removal_as`] for the HTTP rule).
    pub async fn propose_device_removal(
        &self,
        channel_id: &str,
        device: &DeviceRef,
        reason: Option<&str>,
    ) -> Result<Proposal, ProposalError> {
        let mut errors = FieldErrors::default();
        if !is_valid_principal(&device.user_id) || !is_valid_principal(&device.device_id) {
            errors.add(
                "device",
                "user_id and device_id must match [A-Za-z0-9_.-]{1,64}",
            );
        }
        if reason.is_some_and(|r| r.chars().count() > 500) {
            errors.add("reason", "at most 500 characters");
        } else if reason.is_some_and(|r| r.chars().any(char::is_control)) {
            errors.add("reason", "must not contain control characters");
        }
        errors.into_result().map_err(ProposalError::Invalid)?;

        // Ungated: proposals are rare and may be made from code paths that run inside another
        // write's lifetime; SQLite's busy handler is enough for them.
        let mut tx = self.write_ungated().await?;
        // A no-op write that row-locks the channel: serialized with commits.
        let epoch: Option<i64> =
            sqlx::query_scalar("UPDATE channels SET epoch = epoch WHERE id = $1 RETURNING epoch")
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(epoch) = epoch else {
            return Err(ProposalError::ChannelNotFound);
        };
        let existing = pending(&mut *tx, channel_id)
            .await?
            .into_iter()
            .find(|p| p.user_id == device.user_id && p.device_id == device.device_id);
        if let Some(existing) = existing {
            tx.rollback().await?;
            return Ok(existing);
        }
        let key = (device.user_id.as_str(), device.device_id.as_str());
        if !is_member_at(&mut *tx, channel_id, key, epoch).await? {
            return Err(ProposalError::NotAMember);
        }
        let proposal = Proposal {
            id: new_id("prop"),
            channel_id: channel_id.to_owned(),
            kind: "remove".to_owned(),
            user_id: device.user_id.clone(),
            device_id: device.device_id.clone(),
            reason: reason.map(str::to_owned),
            created_at: self.now(),
        };
        sqlx::query(
            "INSERT INTO membership_proposals (id, channel_id, kind, user_id, device_id, reason, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&proposal.id)
        .bind(channel_id)
        .bind(&proposal.kind)
        .bind(&proposal.user_id)
        .bind(&proposal.device_id)
        .bind(&proposal.reason)
        .bind(proposal.created_at)
        .execute(&mut *tx)
        .await?;
        tx.append(
            kind::PROPOSAL_PENDING,
            Audience::ChannelEpoch { channel_id, epoch },
            &json!({ "channel_id": channel_id, "proposal": &proposal }),
            proposal.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// Proposes the removal of `device` from every channel whose group it is in (for a revoked
    /// device, or a user removed from a server: pass the device of each). Returns the proposals.
    pub async fn propose_removals_for_device(
        &self,
        device: &DeviceRef,
        reason: Option<&str>,
    ) -> Result<Vec<Proposal>, ProposalError> {
        let channels: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT channel_id FROM channel_device_spans \
             WHERE user_id = $1 AND device_id = $2 AND left_epoch IS NULL ORDER BY channel_id",
        )
        .bind(&device.user_id)
        .bind(&device.device_id)
        .fetch_all(self.pool())
        .await?;
        let mut proposals = Vec::with_capacity(channels.len());
        for channel_id in channels {
            match self
                .propose_device_removal(&channel_id, device, reason)
                .await
            {
                Ok(proposal) => proposals.push(proposal),
                // Removed by a commit in the meantime: nothing to propose.
                Err(ProposalError::NotAMember) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(proposals)
    }

    /// [`Control::propose_device_removal`] on behalf of `actor`, who must be an owner or
    /// moderator of the channel's server (others: `Forbidden`; non-members: `ChannelNotFound`).
    pub async fn propose_removal_as(
        &self,
        actor: &str,
        channel_id: &str,
        device: &DeviceRef,
        reason: Option<&str>,
    ) -> Result<Proposal, ProposalError> {
        let channel = self.visible_channel(actor, channel_id).await?;
        let role = self.member_role(&channel.server_id, actor).await?;
        if !role.is_some_and(Role::can_manage) {
            return Err(ProposalError::Forbidden);
        }
        self.propose_device_removal(channel_id, device, reason)
            .await
    }

    /// The channel's current epoch, member devices and pending proposals, for a member of its
    /// server.
    pub async fn membership(
        &self,
        user_id: &str,
        channel_id: &str,
    ) -> Result<Membership, ProposalError> {
        self.visible_channel(user_id, channel_id).await?;
        let mut conn = self.pool().acquire().await?;
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_one(&mut *conn)
            .await?;
        let members = members_at(&mut *conn, channel_id, epoch)
            .await?
            .into_iter()
            .map(|(device, joined_epoch)| MemberDevice {
                user_id: device.user_id,
                device_id: device.device_id,
                joined_epoch,
            })
            .collect();
        let pending_proposals = pending(&mut *conn, channel_id).await?;
        Ok(Membership {
            channel_id: channel_id.to_owned(),
            epoch,
            members,
            pending_proposals,
        })
    }

    /// The latest welcome addressed to `device` in `channel_id` (released with its commit), or
    /// `None`. `ChannelNotFound` unless the device's user is a member of the channel's server.
    pub(crate) async fn welcome_for(
        &self,
        device: &DeviceRef,
        channel_id: &str,
    ) -> Result<Option<WelcomeMessage>, AccessError> {
        self.visible_channel(&device.user_id, channel_id).await?;
        let row = sqlx::query(
            "SELECT epoch, welcome FROM welcome_messages WHERE channel_id = $1 AND user_id = $2 \
             AND device_id = $3 ORDER BY epoch DESC LIMIT 1",
        )
        .bind(channel_id)
        .bind(&device.user_id)
        .bind(&device.device_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(WelcomeMessage {
                channel_id: channel_id.to_owned(),
                epoch: row.try_get("epoch")?,
                welcome: row.try_get("welcome")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| AccessError::from(e))
    }
}
