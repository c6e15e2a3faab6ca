//! One signaling session: redeem a ticket, join the sfu room, then relay frames and events until
//! either side leaves. Generic over the frame stream and sink so tests can drive it with channels.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use control::websocket as close;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::time::{Instant, sleep_until, timeout};

use super::protocol::{
    ClientMessage, ErrorCode, Joined, PROTOCOL_VERSION, RoomInfo, SelfInfo, ServerMessage,
    from_peer_event, participant, sfu_grants, sfu_source, sfu_tracks, wire_code,
};
use crate::live::{self, Holder, Registration};
use crate::state::AppState;
use crate::tickets::TicketClaims;

/// Time allowed between the upgrade and the `join` frame.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Invalid frames tolerated before the session is closed.
pub const MAX_INVALID_FRAMES: u32 = 20;

enum Frame {
    Message(ClientMessage),
    Invalid(String),
    Ignore,
    Closed,
}

fn classify(message: Option<Result<Message, impl std::fmt::Display>>) -> Frame {
    match message {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Frame::Closed,
        Some(Ok(Message::Text(text))) => match ClientMessage::parse(text.as_str()) {
            Ok(m) => Frame::Message(m),
            Err(e) => Frame::Invalid(e),
        },
        Some(Ok(Message::Binary(_))) => {
            Frame::Invalid("binary frames are not part of the protocol".into())
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Frame::Ignore,
    }
}

struct Out<S> {
    sink: S,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl<S: Sink<Message> + Unpin> Out<S> {
    /// Sends a frame. Every `error` frame is also logged at WARN and counted by code: each is
    /// a client input the server refused (or the end of its session).
    async fn send(&mut self, message: &ServerMessage) -> bool {
        if let ServerMessage::Error {
            code,
            message,
            fatal,
        } = message
        {
            tracing::warn!(code = code.as_ref(), fatal, %message, "signaling error sent to the client");
            self.metrics.error_sent(code);
        }
        self.sink
            .send(Message::Text(message.to_text().into()))
            .await
            .is_ok()
    }

    async fn fail(&mut self, code: ErrorCode, message: impl Into<String>) {
        let message = message.into();
        let code = code.as_str();
        let _ = self.send(&ServerMessage::error(code, message, true)).await;
        let _ = self
            .sink
            .send(Message::Close(Some(CloseFrame {
                code: close::SESSION_ERROR,
                reason: code.into(),
            })))
            .await;
    }

    async fn close_normally(&mut self) {
        let _ = self
            .sink
            .send(Message::Close(Some(CloseFrame {
                code: close::NORMAL,
                reason: "".into(),
            })))
            .await;
    }
}

/// Runs a session to its end.
pub async fn run<S, R, E>(state: AppState, sink: S, mut stream: R)
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let metrics = state.metrics.clone();
    let mut out = Out {
        sink,
        metrics: metrics.clone(),
    };
    let _live = metrics.session_started();
    let Some(claims) = await_join(&state, &mut out, &mut stream).await else {
        return;
    };
    // Registered before the access check: see `crate::live`.
    let registration = state.live.register(Holder {
        user_id: claims.sub.to_string(),
        device_id: claims.did.to_string(),
        server_id: claims.srv.to_string(),
        channel_id: claims.chn.to_string(),
    });
    if let Err(e) = state
        .control
        .check_room_access(&claims.sub, &claims.did, &claims.chn)
        .await
    {
        let (code, message) = match live::ending_for(&e) {
            Some(ending) => (ending.code, ending.message),
            None => {
                tracing::warn!(error = %e, "cannot check a ticket holder's access");
                (
                    ErrorCode::Internal,
                    "the server could not check your access",
                )
            }
        };
        state.metrics.join_refused(code.as_str());
        out.fail(code, message).await;
        return;
    }
    let span = tracing::info_span!("session", user = %claims.sub, room = %claims.chn);
    tracing::Instrument::instrument(relay(state, out, stream, claims, registration), span).await;
}

async fn await_join<S, R, E>(
    state: &AppState,
    out: &mut Out<S>,
    stream: &mut R,
) -> Option<TicketClaims>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + JOIN_TIMEOUT;
    let mut invalid = 0;
    loop {
        let Ok(next) = timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.next(),
        )
        .await
        else {
            out.fail(ErrorCode::JoinRequired, "no join frame within 10 s")
                .await;
            return None;
        };
        match classify(next) {
            Frame::Closed => return None,
            Frame::Ignore => {}
            Frame::Invalid(why) => {
                invalid += 1;
                if invalid > MAX_INVALID_FRAMES {
                    out.fail(ErrorCode::InvalidMessage, "too many invalid frames")
                        .await;
                    return None;
                }
                out.send(&ServerMessage::error_code(
                    ErrorCode::InvalidMessage,
                    why,
                    false,
                ))
                .await;
            }
            Frame::Message(ClientMessage::Join { protocol, ticket }) => {
                if protocol != PROTOCOL_VERSION {
                    out.fail(
                        ErrorCode::UnsupportedProtocol,
                        format!("this server speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
                    )
                    .await;
                    return None;
                }
                return match state.tickets.redeem(&ticket) {
                    Ok(claims) => Some(claims),
                    Err(e) => {
                        state.metrics.join_refused(e.code().as_str());
                        out.fail(e.code(), e.to_string()).await;
                        None
                    }
                };
            }
            Frame::Message(_) => {
                out.fail(ErrorCode::JoinRequired, "the first frame must be join")
                    .await;
                return None;
            }
        }
    }
}

fn room_kind(kind: &str) -> sfu::RoomKind {
    match kind {
        "video" => sfu::RoomKind::Video,
        _ => sfu::RoomKind::Voice,
    }
}

async fn relay<S, R, E>(
    state: AppState,
    mut out: Out<S>,
    mut stream: R,
    claims: TicketClaims,
    mut registration: Registration,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let participant_id = format!(
        "p_{}",
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(12)
            .map(char::from)
            .collect::<String>()
    );
    let kind = room_kind(&claims.knd);
    let mut policy = sfu::RoomPolicy::for_kind(kind);
    policy.max_participants = state.config.rtc.max_participants_per_room;
    let request = sfu::JoinRequest {
        room: sfu::RoomId(claims.chn.to_string()),
        policy,
        participant: sfu::ParticipantInfo {
            participant_id: participant_id.clone(),
            user_id: claims.sub.to_string(),
            device_id: claims.did.to_string(),
        },
        grants: sfu_grants(claims.grt),
    };
    let mut handle = match state.sfu.join(request) {
        Ok(h) => h,
        Err(e) => {
            let code = wire_code(e.code());
            state.metrics.join_refused(code.as_str());
            let message = match e {
                sfu::SfuError::RoomFull(_) => e.to_string(),
                _ => {
                    tracing::warn!(error = %e, "the sfu refused a peer");
                    "the media plane could not take the connection".to_string()
                }
            };
            out.fail(code, message).await;
            return;
        }
    };
    let participants = match handle.next_event().await {
        Some(sfu::PeerEvent::Joined { participants }) => participants,
        Some(sfu::PeerEvent::Error { code, message, .. }) => {
            out.fail(wire_code(code), message).await;
            return;
        }
        _ => {
            out.fail(
                ErrorCode::Internal,
                "the media plane did not accept the peer",
            )
            .await;
            return;
        }
    };
    let keepalive = Duration::from_millis(state.config.rtc.keepalive_interval_ms);
    let joined = ServerMessage::Joined(Joined {
        protocol: PROTOCOL_VERSION,
        participant_id: participant_id.clone(),
        room: RoomInfo {
            channel_id: claims.chn.to_string(),
            server_id: claims.srv.to_string(),
            kind: kind.as_str().into(),
        },
        self_info: SelfInfo {
            user_id: claims.sub.to_string(),
            device_id: claims.did.to_string(),
            grants: claims.grt,
        },
        participants: participants.iter().map(participant).collect(),
        keepalive_interval_ms: keepalive.as_millis() as u64,
    });
    if !out.send(&joined).await {
        return;
    }
    tracing::info!(user = %claims.sub, room = %claims.chn, "joined room");
    // A server mute in force follows the user into the room (one committed from now on reaches
    // this session through `live::watch_access`: it registered before this check).
    match state.control.server_muted(&claims.srv, &claims.sub).await {
        Ok(true) => {
            let target = sfu::Target::Participant(participant_id.clone());
            if let Err(e) = state.sfu.server_mute(&handle_room(&claims), &target, true) {
                tracing::warn!(error = %e, "cannot apply the server mute in force at join");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the server mutes in force at join"),
    }
    let mut invalid = 0;
    let mut last_rx = Instant::now();
    loop {
        let silence_deadline = last_rx + keepalive * 3;
        tokio::select! {
            next = stream.next() => {
                last_rx = Instant::now();
                let message = match classify(next) {
                    Frame::Closed => break,
                    Frame::Ignore => continue,
                    Frame::Invalid(why) => {
                        invalid += 1;
                        if invalid > MAX_INVALID_FRAMES {
                            out.fail(ErrorCode::InvalidMessage, "too many invalid frames").await;
                            break;
                        }
                        out.send(&ServerMessage::error_code(ErrorCode::InvalidMessage, why, false)).await;
                        continue;
                    }
                    Frame::Message(m) => m,
                };
                let sent = match message {
                    ClientMessage::Join { .. } => {
                        out.send(&ServerMessage::error_code(ErrorCode::AlreadyJoined, "this session already joined", false)).await;
                        Ok(())
                    }
                    ClientMessage::Offer { sdp, tracks } => handle.offer(sdp, sfu_tracks(tracks)),
                    ClientMessage::Answer { sdp } => handle.answer(sdp),
                    ClientMessage::Candidate { candidate, .. } => handle.add_candidate(candidate),
                    ClientMessage::Mute { source, muted } => match sfu_source(source) {
                        Some(source) => {
                            handle.set_muted(source, muted);
                            Ok(())
                        }
                        None => Ok(()), // refused by frame validation already
                    },
                    ClientMessage::TrackSettings { track_id, width, height, paused } => {
                        let view = match (paused, width, height) {
                            (true, _, _) => sfu::TrackView::Paused,
                            (false, w, h) => sfu::TrackView::Size {
                                width: w.unwrap_or(0),
                                height: h.unwrap_or(0),
                            },
                        };
                        handle.set_track_view(track_id, view)
                    }
                    ClientMessage::Ping { nonce } => {
                        out.send(&ServerMessage::Pong { nonce }).await;
                        Ok(())
                    }
                    ClientMessage::Leave {} => {
                        out.close_normally().await;
                        break;
                    }
                };
                if sent.is_err() {
                    out.fail(ErrorCode::Internal, "the media plane stopped").await;
                    break;
                }
            }
            event = handle.next_event() => {
                let Some(event) = event else { break };
                match &event {
                    sfu::PeerEvent::Closed { reason: sfu::LeaveReason::Kicked } => {
                        out.fail(ErrorCode::Kicked, "removed from the room by a moderator").await;
                        break;
                    }
                    sfu::PeerEvent::Closed { .. } => {
                        out.close_normally().await;
                        break;
                    }
                    _ => {}
                }
                // A fatal error from the media plane ends the session like any other: the
                // frame, then close 4000 with the code as the reason.
                if let sfu::PeerEvent::Error { code, message, fatal: true } = &event {
                    out.fail(wire_code(*code), message.clone()).await;
                    break;
                }
                let Some(message) = from_peer_event(&event) else {
                    continue;
                };
                if !out.send(&message).await {
                    break;
                }
            }
            ending = &mut registration.ended => {
                if let Ok(ending) = ending {
                    tracing::info!(code = ending.code.as_str(), "session ended by an access change");
                    // The room sees a moderator's kick as such; any other lost access as removed.
                    let reason = if ending.code == ErrorCode::Kicked {
                        sfu::LeaveReason::Kicked
                    } else {
                        sfu::LeaveReason::Removed
                    };
                    let _ = handle.remove(reason);
                    out.fail(ending.code, ending.message).await;
                }
                break;
            }
            _ = sleep_until(silence_deadline) => {
                out.fail(ErrorCode::KeepaliveTimeout, "no frame for three keepalive intervals").await;
                break;
            }
        }
    }
    tracing::info!(user = %claims.sub, room = %claims.chn, "left room");
}

/// The room of a ticket's channel.
fn handle_room(claims: &TicketClaims) -> sfu::RoomId {
    sfu::RoomId(claims.chn.to_string())
}
