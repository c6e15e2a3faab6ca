//! Accepting a membership commit: compare-and-swap of the epoch plus the timeline rows, welcomes,
//! proposals and outbox events, all in one transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::members::members_at;
use super::{
    CommitError, CommitOutcome, CommitRequest, DeviceRef, MAX_CHANGES_PER_COMMIT, MAX_OPAQUE_BYTES,
    Proposal, is_valid_principal,
};
use crate::outbox::{Audience, Write, kind};
use crate::payload::{PayloadError, decoded_len};
use crate::validate::is_valid_id;
use crate::{Control, FieldErrors};

impl Control {
    /// Applies a membership commit sent by `sender` (the caller's device) to `channel_id`.
    ///
    /// Accepted only when `request.epoch` is the channel's current epoch (the first commit for an
    /// epoch wins; later ones get [`CommitError::EpochConflict`] with the current epoch), the
    /// sender device is a member at that epoch (or bootstraps an empty group by adding itself),
    /// every added device is an active device of a server member and not yet a member, every
    /// removed device is a member, and every pending proposal is carried out. On success the
    /// epoch, timeline, welcomes and the `membership_committed` / `epoch_advanced` events are
    /// committed together.
    pub async fn commit_membership(
        &self,
        sender: &DeviceRef,
        channel_id: &str,
        request: CommitRequest,
    ) -> Result<CommitOutcome, CommitError> {
        validate(&request)?;
        if let Some(r) = self
            .restriction_in_channel(channel_id, &sender.user_id)
            .await?
        {
            return Err(CommitError::Restricted(r));
        }
        self.visible_channel(&sender.user_id, channel_id).await?;

        let mut tx = self.write().await?;
        // The compare-and-swap, first: it row-locks the channel (PostgreSQL) or takes the write
        // lock (SQLite) so everything below is serialized with other commits and sends.
        let advanced: Option<i64> = sqlx::query_scalar(
            "UPDATE channels SET epoch = epoch + 1 WHERE id = $1 AND epoch = $2 RETURNING epoch",
        )
        .bind(channel_id)
        .bind(request.epoch)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(new_epoch) = advanced else {
            tx.rollback().await?;
            let current_epoch: i64 = sqlx::query_scalar("SELECT epoch FROM channels WHERE id = $1")
                .bind(channel_id)
                .fetch_one(self.pool())
                .await?;
            return Err(CommitError::EpochConflict { current_epoch });
        };

        let outcome = self
            .apply_commit(&mut tx, sender, channel_id, request, new_epoch)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Everything after the compare-and-swap; any error rolls the transaction back (dropped).
    async fn apply_commit(
        &self,
        conn: &mut Write<'_>,
        sender: &DeviceRef,
        channel_id: &str,
        request: CommitRequest,
        new_epoch: i64,
    ) -> Result<CommitOutcome, CommitError> {
        let claimed = request.epoch;
        let current: HashSet<DeviceRef> = members_at(&mut **conn, channel_id, claimed)
            .await?
            .into_iter()
            .map(|(device, _)| device)
            .collect();
        let bootstrap = current.is_empty() && request.added.contains(sender);
        if !bootstrap && !current.contains(sender) {
            return Err(CommitError::SenderNotMember);
        }
        let server_id: String = sqlx::query_scalar("SELECT server_id FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_one(&mut **conn)
            .await?;
        for device in &request.added {
            if current.contains(device) {
                return Err(invalid(device, "already_a_member"));
            }
            check_addable(conn, &server_id, device).await?;
        }
        for device in &request.removed {
            if !current.contains(device) {
                return Err(invalid(device, "not_a_member"));
            }
        }
        check_proposals(conn, channel_id, &request).await?;

        let now = self.now();
        sqlx::query(
            "INSERT INTO membership_commits (channel_id, epoch, sender_user_id, sender_device_id, \
             commit_data, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(channel_id)
        .bind(new_epoch)
        .bind(&sender.user_id)
        .bind(&sender.device_id)
        .bind(&request.commit)
        .bind(now)
        .execute(&mut **conn)
        .await?;
        for (devices, change) in [(&request.added, "add"), (&request.removed, "remove")] {
            for device in devices {
                sqlx::query(
                    "INSERT INTO membership_timeline (channel_id, epoch, user_id, device_id, \
                     change_kind) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(channel_id)
                .bind(new_epoch)
                .bind(&device.user_id)
                .bind(&device.device_id)
                .bind(change)
                .execute(&mut **conn)
                .await?;
            }
        }
        for device in &request.added {
            sqlx::query(
                "INSERT INTO channel_device_spans (channel_id, user_id, device_id, joined_epoch) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(channel_id)
            .bind(&device.user_id)
            .bind(&device.device_id)
            .bind(new_epoch)
            .execute(&mut **conn)
            .await?;
        }
        for device in &request.removed {
            sqlx::query(
                "UPDATE channel_device_spans SET left_epoch = $1 WHERE channel_id = $2 \
                 AND user_id = $3 AND device_id = $4 AND left_epoch IS NULL",
            )
            .bind(new_epoch)
            .bind(channel_id)
            .bind(&device.user_id)
            .bind(&device.device_id)
            .execute(&mut **conn)
            .await?;
        }
        for welcome in &request.welcomes {
            sqlx::query(
                "INSERT INTO welcome_messages (channel_id, epoch, user_id, device_id, welcome) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(channel_id)
            .bind(new_epoch)
            .bind(&welcome.user_id)
            .bind(&welcome.device_id)
            .bind(&welcome.welcome)
            .execute(&mut **conn)
            .await?;
        }
        for id in &request.proposal_ids {
            sqlx::query("UPDATE membership_proposals SET committed_epoch = $1 WHERE id = $2")
                .bind(new_epoch)
                .bind(id)
                .execute(&mut **conn)
                .await?;
        }

        let outcome = CommitOutcome {
            channel_id: channel_id.to_owned(),
            epoch: new_epoch,
            sender: sender.clone(),
            commit: request.commit,
            added: request.added,
            removed: request.removed,
            proposal_ids: request.proposal_ids,
            created_at: now,
        };
        let audience = Audience::ChannelCommit {
            channel_id,
            epoch: new_epoch,
        };
        let committed = serde_json::to_value(&outcome).map_err(|e| {
            CommitError::Storage(crate::ControlError::Corrupt(format!("commit event: {e}")))
        })?;
        conn.append(kind::MEMBERSHIP_COMMITTED, audience, &committed, now)
            .await?;
        conn.append(
            kind::EPOCH_ADVANCED,
            audience,
            &json!({ "channel_id": channel_id, "epoch": new_epoch }),
            now,
        )
        .await?;
        Ok(outcome)
    }
}

fn invalid(device: &DeviceRef, reason: &'static str) -> CommitError {
    CommitError::InvalidChange {
        device: device.clone(),
        reason,
    }
}

/// Input checks that need no database.
fn validate(request: &CommitRequest) -> Result<(), CommitError> {
    let mut errors = FieldErrors::default();
    if request.epoch < 0 {
        errors.add("epoch", "must be >= 0");
    }
    match decoded_len(&request.commit, MAX_OPAQUE_BYTES) {
        Err(PayloadError::Malformed) => errors.add("commit", "must be base64"),
        Err(PayloadError::TooLarge) => return Err(CommitError::PayloadTooLarge),
        Ok(0) => errors.add("commit", "must not be empty"),
        Ok(_) => {}
    }
    if request.added.len() + request.removed.len() > MAX_CHANGES_PER_COMMIT {
        return Err(CommitError::PayloadTooLarge);
    }
    // 400 for what the request schema states (formats, duplicates within one list); 422
    // `invalid_membership_change` for rules across fields that a schema cannot state.
    for (field, devices) in [("added", &request.added), ("removed", &request.removed)] {
        let mut listed = BTreeSet::new();
        for device in devices {
            if !is_valid_principal(&device.user_id) || !is_valid_principal(&device.device_id) {
                errors.add(
                    field,
                    "user_id and device_id must match [A-Za-z0-9_.-]{1,64}",
                );
            } else if !listed.insert(device) {
                errors.add(field, "a device may appear only once");
            }
        }
    }
    for welcome in &request.welcomes {
        if !is_valid_principal(&welcome.user_id) || !is_valid_principal(&welcome.device_id) {
            errors.add(
                "welcomes",
                "user_id and device_id must match [A-Za-z0-9_.-]{1,64}",
            );
        }
        match decoded_len(&welcome.welcome, MAX_OPAQUE_BYTES) {
            Err(PayloadError::Malformed) => errors.add("welcomes", "must be base64"),
            Err(PayloadError::TooLarge) => return Err(CommitError::PayloadTooLarge),
            Ok(_) => {}
        }
    }
    let mut proposals = HashSet::new();
    for id in &request.proposal_ids {
        if !is_valid_id(id) || !proposals.insert(id) {
            errors.add("proposal_ids", "unique ids matching [A-Za-z0-9_-]{1,64}");
        }
    }
    errors.into_result().map_err(CommitError::Invalid)?;

    let added: HashSet<&DeviceRef> = request.added.iter().collect();
    if let Some(device) = request.removed.iter().find(|d| added.contains(d)) {
        return Err(invalid(device, "listed_twice"));
    }
    let mut welcomed = HashSet::new();
    for welcome in &request.welcomes {
        let device = DeviceRef::new(&welcome.user_id, &welcome.device_id);
        if !added.contains(&device) || !welcomed.insert(device.clone()) {
            return Err(invalid(&device, "unexpected_welcome"));
        }
    }
    Ok(())
}

/// An added device must exist, be active, and belong to a member of the channel's server.
async fn check_addable(
    conn: &mut AnyConnection,
    server_id: &str,
    device: &DeviceRef,
) -> Result<(), CommitError> {
    let row = sqlx::query("SELECT revoked_at FROM devices WHERE user_id = $1 AND device_id = $2")
        .bind(&device.user_id)
        .bind(&device.device_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Err(invalid(device, "unknown_device"));
    };
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(invalid(device, "revoked_device"));
    }
    let member: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE server_id = $1 AND user_id = $2")
            .bind(server_id)
            .bind(&device.user_id)
            .fetch_optional(&mut *conn)
            .await?;
    if member.is_none() {
        return Err(invalid(device, "not_a_server_member"));
    }
    Ok(())
}

/// Every pending proposal must be listed and carried out; listed ids must be pending proposals
/// whose device the commit removes.
async fn check_proposals(
    conn: &mut AnyConnection,
    channel_id: &str,
    request: &CommitRequest,
) -> Result<(), CommitError> {
    let pending: HashMap<String, Proposal> = super::proposals::pending(&mut *conn, channel_id)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let removed: HashSet<&DeviceRef> = request.removed.iter().collect();
    for id in &request.proposal_ids {
        let Some(proposal) = pending.get(id) else {
            let device = DeviceRef::new("", "");
            return Err(invalid(&device, "unknown_proposal"));
        };
        let device = DeviceRef::new(&proposal.user_id, &proposal.device_id);
        if !removed.contains(&device) {
            return Err(invalid(&device, "proposal_not_applied"));
        }
    }
    let listed: HashSet<&String> = request.proposal_ids.iter().collect();
    let missing: Vec<Proposal> = pending
        .into_values()
        .filter(|p| !listed.contains(&p.id))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CommitError::PendingProposalsOmitted { missing })
    }
}
