//! The webrtc-rs event handler: forwards what the joiner needs over channels.

use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

/// Peer connection events the joiner acts on.
pub enum PeerEvent {
    /// A remote track delivered its first RTP packet.
    Track(Arc<dyn TrackRemote>),
    /// The connection state changed.
    ConnectionState(RTCPeerConnectionState),
}

impl std::fmt::Debug for PeerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerEvent::Track(_) => f.write_str("Track(..)"),
            PeerEvent::ConnectionState(state) => write!(f, "ConnectionState({state})"),
        }
    }
}

/// Runs on the webrtc-rs driver: it must never block, so it only forwards.
pub(crate) struct EventForwarder {
    pub(crate) events: mpsc::UnboundedSender<PeerEvent>,
    pub(crate) connection: watch::Sender<RTCPeerConnectionState>,
    pub(crate) gathering: watch::Sender<RTCIceGatheringState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for EventForwarder {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        tracing::debug!(%state, "ICE gathering state");
        self.gathering.send_replace(state);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "peer connection state");
        self.connection.send_replace(state);
        let _ = self.events.send(PeerEvent::ConnectionState(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(PeerEvent::Track(track));
    }
}
