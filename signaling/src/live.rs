//! The live signaling sessions of this node, by who they are, so that a decision taken in
//! control (a device revoked, a member removed) ends them at once.
//!
//! A session registers *before* it re-checks its ticket holder's access with control
//! ([`Control::check_room_access`]): a change committed after that check reaches it through
//! [`watch_access`]; one committed before is caught by the check. Either way no session outlives
//! the change by more than the time the change takes to reach this node's realtime dispatcher.
//!
//! [`Control::check_room_access`]: control::Control::check_room_access

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use control::AccessChange;
use tokio::sync::{broadcast, oneshot};

use crate::state::AppState;

/// Why the server ends a live session: a fatal protocol error code and a sentence for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    /// Stable code (docs/protocol.md).
    pub code: openchat_protocol::ErrorCode,
    /// For people.
    pub message: &'static str,
}

impl Ending {
    /// The session's device was revoked.
    pub const DEVICE_REVOKED: Ending = Ending {
        code: openchat_protocol::ErrorCode::DeviceRevoked,
        message: "this device was revoked",
    };
    /// The user is no longer a member of the room's server.
    pub const MEMBERSHIP_REVOKED: Ending = Ending {
        code: openchat_protocol::ErrorCode::MembershipRevoked,
        message: "you are no longer a member of this room's server",
    };
    /// The user is banned from the room's server.
    pub const BANNED: Ending = Ending {
        code: openchat_protocol::ErrorCode::Banned,
        message: "you are banned from this room's server",
    };
    /// The user is timed out in the room's server.
    pub const TIMED_OUT: Ending = Ending {
        code: openchat_protocol::ErrorCode::TimedOut,
        message: "you are timed out in this room's server",
    };
    /// A moderator kicked the user.
    pub const KICKED: Ending = Ending {
        code: openchat_protocol::ErrorCode::Kicked,
        message: "a moderator removed you from this room's server",
    };
}

/// Who a live session is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// User.
    pub user_id: String,
    /// Device.
    pub device_id: String,
    /// The room's server.
    pub server_id: String,
    /// The room's channel.
    pub channel_id: String,
}

struct Live {
    holder: Holder,
    end: Option<oneshot::Sender<Ending>>,
}

/// The registry. Cheap to share (`Arc`).
#[derive(Default)]
pub struct LiveSessions {
    sessions: Mutex<HashMap<u64, Live>>,
    next_id: AtomicU64,
}

/// A registered session; unregisters on drop. `ended` resolves when the server ends it.
pub struct Registration {
    sessions: Arc<LiveSessions>,
    id: u64,
    /// Fires once, with the reason, when a change ends this session.
    pub ended: oneshot::Receiver<Ending>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
    }
}

impl LiveSessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Live>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a session of `holder`.
    pub fn register(self: &Arc<Self>, holder: Holder) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = oneshot::channel();
        self.lock().insert(
            id,
            Live {
                holder,
                end: Some(end),
            },
        );
        Registration {
            sessions: self.clone(),
            id,
            ended,
        }
    }

    /// Number of registered sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every session `change` takes access from; returns how many.
    pub fn apply(&self, change: &AccessChange) -> usize {
        let mut ended = 0;
        for live in self.lock().values_mut() {
            if let Some(ending) = ending_by(change, &live.holder)
                && let Some(end) = live.end.take()
            {
                let _ = end.send(ending);
                ended += 1;
            }
        }
        ended
    }

    /// The rooms (channel ids) where `user_id` of `server_id` has a live session.
    pub fn rooms_of(&self, server_id: &str, user_id: &str) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .lock()
            .values()
            .filter(|live| live.holder.user_id == user_id && live.holder.server_id == server_id)
            .map(|live| live.holder.channel_id.clone())
            .collect();
        rooms.sort();
        rooms.dedup();
        rooms
    }

    fn holders(&self) -> Vec<(u64, Holder)> {
        self.lock()
            .iter()
            .filter(|(_, live)| live.end.is_some())
            .map(|(id, live)| (*id, live.holder.clone()))
            .collect()
    }

    fn end(&self, id: u64, ending: Ending) {
        if let Some(end) = self.lock().get_mut(&id).and_then(|live| live.end.take()) {
            let _ = end.send(ending);
        }
    }
}

/// How `change` ends a session of `holder`, if it takes that session's access away.
fn ending_by(change: &AccessChange, holder: &Holder) -> Option<Ending> {
    match change {
        AccessChange::DeviceRevoked { user_id, device_id }
            if &holder.user_id == user_id && &holder.device_id == device_id =>
        {
            Some(Ending::DEVICE_REVOKED)
        }
        AccessChange::MemberRemoved { server_id, user_id }
            if &holder.user_id == user_id && &holder.server_id == server_id =>
        {
            Some(Ending::MEMBERSHIP_REVOKED)
        }
        AccessChange::Moderation {
            server_id,
            user_id,
            action,
            ..
        } if &holder.user_id == user_id && &holder.server_id == server_id => match action {
            control::ActionKind::Ban => Some(Ending::BANNED),
            control::ActionKind::Kick => Some(Ending::KICKED),
            control::ActionKind::Timeout => Some(Ending::TIMED_OUT),
            _ => None,
        },
        _ => None,
    }
}

/// The ending for a holder that control no longer admits, if any.
pub fn ending_for(error: &control::AdmissionError) -> Option<Ending> {
    match error {
        control::AdmissionError::DeviceRevoked => Some(Ending::DEVICE_REVOKED),
        control::AdmissionError::Banned { .. } => Some(Ending::BANNED),
        control::AdmissionError::TimedOut { .. } => Some(Ending::TIMED_OUT),
        control::AdmissionError::NotAMember | control::AdmissionError::ChannelNotFound => {
            Some(Ending::MEMBERSHIP_REVOKED)
        }
        control::AdmissionError::NotAnRtcChannel | control::AdmissionError::Storage(_) => None,
    }
}

/// Applies control's access changes to this node's live sessions until control stops. A lagging
/// receiver missed changes: every live session is then checked again with control.
pub async fn watch_access(state: AppState) {
    let mut changes = state.control.access_changes();
    let mut sweep = tokio::time::interval(MODERATION_SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let received = tokio::select! {
            received = changes.recv() => received,
            _ = sweep.tick() => {
                sweep_moderation(&state).await;
                continue;
            }
        };
        match received {
            Ok(change) => {
                apply_server_mute(&state, &change);
                let ended = state.live.apply(&change);
                if ended > 0 {
                    tracing::info!(?change, ended, "access change ended live sessions");
                    state.metrics.sessions_ended_by_access(ended as u64);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "access changes lagged; re-checking every live session"
                );
                recheck_all(&state).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// How often timed mutes and timeouts that ran out are lifted, and proposals past their
/// lifetime expired (on every node; each is done once, by whichever node gets to it).
const MODERATION_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

async fn sweep_moderation(state: &AppState) {
    if let Err(e) = state.control.lapse_restrictions().await {
        tracing::warn!(error = %e, "cannot lift the moderation restrictions that ran out");
    }
    if let Err(e) = state.control.expire_proposals(None).await {
        tracing::warn!(error = %e, "cannot expire the moderation proposals that ran out");
    }
}

/// A server mute or unmute (or a mute's lapse) applied to the target's live rooms on this node:
/// the rooms layer stops (or resumes) forwarding their media and shows the room a server mute.
fn apply_server_mute(state: &AppState, change: &AccessChange) {
    let AccessChange::Moderation {
        server_id,
        user_id,
        action,
        ..
    } = change
    else {
        return;
    };
    let muted = match action {
        control::ActionKind::Mute => true,
        control::ActionKind::Unmute => false,
        _ => return,
    };
    for room in state.live.rooms_of(server_id, user_id) {
        let target = sfu::Target::User(user_id.clone());
        match state
            .sfu
            .server_mute(&sfu::RoomId(room.clone()), &target, muted)
        {
            Ok(sessions) => {
                tracing::info!(room, user_id, muted, sessions, "server mute applied");
                state.metrics.server_mutes_applied(sessions as u64);
            }
            // Registered but not in the room yet: its join applies the mute in force.
            Err(e) => tracing::debug!(room, user_id, error = %e, "no live session to mute"),
        }
    }
}

async fn recheck_all(state: &AppState) {
    for (id, holder) in state.live.holders() {
        let verdict = state
            .control
            .check_room_access(&holder.user_id, &holder.device_id, &holder.channel_id)
            .await;
        if let Err(e) = verdict
            && let Some(ending) = ending_for(&e)
        {
            state.live.end(id, ending);
            state.metrics.sessions_ended_by_access(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(user: &str, device: &str, server: &str) -> Holder {
        Holder {
            user_id: user.into(),
            device_id: device.into(),
            server_id: server.into(),
            channel_id: "vc".into(),
        }
    }

    #[test]
    fn a_revocation_ends_that_device_only() {
        let live = Arc::new(LiveSessions::default());
        let mut a1 = live.register(holder("alice", "a1", "s"));
        let mut a2 = live.register(holder("alice", "a2", "s"));
        let ended = live.apply(&AccessChange::DeviceRevoked {
            user_id: "alice".into(),
            device_id: "a2".into(),
        });
        assert_eq!(ended, 1);
        assert_eq!(a2.ended.try_recv(), Ok(Ending::DEVICE_REVOKED));
        assert!(a1.ended.try_recv().is_err());
    }

    #[test]
    fn a_removal_ends_the_users_sessions_in_that_server_only() {
        let live = Arc::new(LiveSessions::default());
        let mut in_s = live.register(holder("bob", "b1", "s"));
        let mut in_t = live.register(holder("bob", "b1", "t"));
        let mut other = live.register(holder("carol", "c1", "s"));
        let ended = live.apply(&AccessChange::MemberRemoved {
            server_id: "s".into(),
            user_id: "bob".into(),
        });
        assert_eq!(ended, 1);
        assert_eq!(in_s.ended.try_recv(), Ok(Ending::MEMBERSHIP_REVOKED));
        assert!(in_t.ended.try_recv().is_err());
        assert!(other.ended.try_recv().is_err());
        drop(in_s);
        assert_eq!(live.len(), 2, "a dropped registration unregisters");
    }
}
