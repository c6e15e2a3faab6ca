//! The task side of the light engine: a [`HubPool`] to place peers on hub threads, and a
//! [`LightPeer`] handle whose async methods are commands to the peer's hub.

use super::frames::EncodedClip;
use super::hub::{Command, Hub, PeerId};
use super::peer::{PeerNotice, PeerReport};
use crate::JoinerError;
use crate::load::{JoinProbe, SendProbe};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Hub threads of a run; peers are placed round-robin.
#[derive(Clone)]
pub struct HubPool {
    hubs: Arc<[Hub]>,
    next: Arc<AtomicUsize>,
}

impl HubPool {
    /// Starts `threads` hubs (at least one) binding on `bind_ip`.
    pub fn start(threads: usize, bind_ip: IpAddr, clip: EncodedClip) -> std::io::Result<Self> {
        let hubs = (0..threads.max(1))
            .map(|i| Hub::start(&format!("media-hub-{i}"), bind_ip, clip.clone()))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self {
            hubs: hubs.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Creates a peer on the next hub. `publish` makes it publish the hub's clip; `probe`
    /// receives its remote packets.
    pub async fn create(
        &self,
        publish: Option<SendProbe>,
        probe: Option<JoinProbe>,
    ) -> Result<LightPeer, JoinerError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.hubs.len();
        let hub = self.hubs[index].clone();
        let (id, notices) = hub
            .ask(|reply| Command::Create {
                publish,
                probe,
                reply,
            })
            .await?;
        Ok(LightPeer {
            hub,
            id,
            notices,
            closed: false,
        })
    }
}

/// One peer living on a hub thread. Dropping it without [`LightPeer::close`] still closes it.
pub struct LightPeer {
    hub: Hub,
    id: PeerId,
    notices: mpsc::UnboundedReceiver<PeerNotice>,
    closed: bool,
}

impl LightPeer {
    /// Creates our offer (non-trickle: the host candidate is in it). Returns the SDP and the
    /// mid of the published microphone m-line, if publishing.
    pub async fn offer(&self) -> Result<(String, Option<String>), JoinerError> {
        let id = self.id;
        self.hub.ask(|reply| Command::Offer { id, reply }).await
    }

    /// Applies the answer to our pending offer.
    pub async fn accept_answer(&self, sdp: String) -> Result<(), JoinerError> {
        let id = self.id;
        self.hub
            .ask(|reply| Command::AcceptAnswer { id, sdp, reply })
            .await
    }

    /// Applies a remote offer (dropping a pending offer of ours) and returns the answer.
    /// `owners` names the publisher (participant id) of each offered mid.
    pub async fn accept_offer(
        &self,
        sdp: String,
        owners: Vec<(String, String)>,
    ) -> Result<String, JoinerError> {
        let id = self.id;
        self.hub
            .ask(|reply| Command::AcceptOffer {
                id,
                sdp,
                owners,
                reply,
            })
            .await
    }

    /// Records the publisher of a received mid (`track_published`).
    pub fn set_owner(&self, mid: String, participant_id: String) -> Result<(), JoinerError> {
        self.hub.send(Command::SetOwner {
            id: self.id,
            mid,
            participant_id,
        })
    }

    /// The next notice from the hub; `None` if the hub is gone.
    pub async fn notice(&mut self) -> Option<PeerNotice> {
        self.notices.recv().await
    }

    /// Closes the peer and returns what it sent and received.
    pub async fn close(mut self) -> PeerReport {
        self.closed = true;
        let (reply, report) = oneshot::channel();
        if self
            .hub
            .send(Command::Close { id: self.id, reply })
            .is_err()
        {
            return PeerReport::default();
        }
        report.await.unwrap_or_default()
    }
}

impl Drop for LightPeer {
    fn drop(&mut self) {
        if !self.closed {
            let (reply, _) = oneshot::channel();
            let _ = self.hub.send(Command::Close { id: self.id, reply });
        }
    }
}
