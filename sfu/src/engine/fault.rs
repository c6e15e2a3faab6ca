//! Peers the worker ends by itself: a failed DTLS handshake, media that never connected, a
//! connection lost. Each gets a fatal error with its own code, a log line and a counter.

use std::time::{Duration, Instant};

use str0m::RtcError;

use super::Engine;
use crate::dtls_failure::DtlsFailure;
use crate::error::ErrorCode;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::PeerId;
use crate::peer::Peer;
use crate::stats::WorkerStats;

/// Why the worker ends a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The DTLS handshake or the certificate check failed (`dtls_failed`).
    Dtls(DtlsFailure),
    /// ICE and DTLS did not complete within `connect_timeout` of joining (`connect_timeout`);
    /// the message says how far the peer got.
    NeverConnected(String),
    /// A connected peer went away: consent lapsed, ICE disconnected, str0m failed (`timeout`).
    Lost(String),
}

impl Fault {
    /// The fault a str0m error reports: a DTLS failure, or else a lost connection.
    pub fn from_rtc_error(error: &RtcError) -> Fault {
        match DtlsFailure::classify(error) {
            Some(failure) => Fault::Dtls(failure),
            None => Fault::Lost(error.to_string()),
        }
    }

    /// The fault of a peer whose media has not connected `waited` after joining, with how far
    /// it got (offer, ICE, DTLS).
    pub fn never_connected(peer: &Peer, waited: Duration, media_addr: &str) -> Fault {
        let secs = waited.as_secs();
        let stage = if !peer.remote_offer_applied {
            "the client sent no offer".to_string()
        } else if peer.last_rx.is_none() {
            format!("no ICE check reached the media address {media_addr} over UDP")
        } else {
            "ICE checks arrived but the DTLS handshake did not complete".to_string()
        };
        Fault::NeverConnected(format!(
            "media did not connect within {secs} s of joining: {stage}"
        ))
    }

    fn code(&self) -> ErrorCode {
        match self {
            Fault::Dtls(_) => ErrorCode::DtlsFailed,
            Fault::NeverConnected(_) => ErrorCode::ConnectTimeout,
            Fault::Lost(_) => ErrorCode::Timeout,
        }
    }

    fn leave_reason(&self) -> LeaveReason {
        match self {
            Fault::Dtls(_) => LeaveReason::Failed,
            Fault::NeverConnected(_) | Fault::Lost(_) => LeaveReason::Timeout,
        }
    }

    fn message(&self) -> String {
        match self {
            Fault::Dtls(failure) => failure.message.clone(),
            Fault::NeverConnected(message) => message.clone(),
            Fault::Lost(_) => "media connection timed out".into(),
        }
    }
}

impl Engine {
    /// Ends a peer for `fault`: logs and counts it, sends the client a fatal error, and removes
    /// the peer (others see `participant_left`). A peer already gone is left alone.
    pub(super) fn fail_peer(&mut self, id: PeerId, fault: Fault) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let participant = &peer.info.participant_id;
        match &fault {
            Fault::Dtls(failure) => {
                tracing::warn!(
                    peer = %id, room = %peer.room, participant = %participant,
                    reason = failure.reason.as_str(), cause = %failure.cause,
                    "DTLS failed: {}; peer removed", failure.message
                );
                WorkerStats::add(&self.stats.dtls_failures[failure.reason.index()], 1);
            }
            Fault::NeverConnected(message) => {
                tracing::warn!(
                    peer = %id, room = %peer.room, participant = %participant,
                    "{message}; peer removed"
                );
                WorkerStats::add(&self.stats.connect_timeouts, 1);
            }
            Fault::Lost(cause) => {
                tracing::debug!(peer = %id, room = %peer.room, %cause, "media connection lost");
            }
        }
        self.events.send_to_peer(
            id,
            PeerEvent::Error {
                code: fault.code(),
                message: fault.message(),
                fatal: true,
            },
        );
        self.remove_peer(id, fault.leave_reason());
    }

    /// The peers to end at `now`: media not connected within `connect_timeout` of joining,
    /// silent for `peer_timeout`, or closed.
    pub(super) fn overdue_peers(&self, now: Instant) -> Vec<(PeerId, Fault)> {
        let media_addr = self.advertised.to_string();
        let mut overdue = Vec::new();
        for peer in self.peers.values() {
            let waited = now.saturating_duration_since(peer.joined_at);
            let silent_for = peer.last_rx.map(|t| now.saturating_duration_since(t));
            if !peer.connected && waited > self.config.connect_timeout {
                overdue.push((peer.id, Fault::never_connected(peer, waited, &media_addr)));
            } else if silent_for.is_some_and(|d| d > self.config.peer_timeout) {
                overdue.push((peer.id, Fault::Lost("no packet within peer_timeout".into())));
            } else if !peer.rtc.is_alive() {
                overdue.push((peer.id, Fault::Lost("the connection was closed".into())));
            }
        }
        overdue
    }
}
