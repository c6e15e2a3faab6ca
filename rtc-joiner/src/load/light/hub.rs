//! The media hub: one OS thread that owns many str0m peers.
//!
//! The loop waits on a mio poll over every peer's socket (plus a waker for commands) with the
//! earliest of: the timer heap's top (each peer's next str0m deadline) and the next publisher
//! frame. Readable sockets are read until they would block and every datagram goes straight
//! into its peer; due timers and due frames run after. str0m is sans-IO, so the whole hub is
//! one plain loop without locks; joiner tasks talk to it with [`Command`]s.

use super::frames::EncodedClip;
use super::peer::{HubPeer, PeerNotice, PeerReport, Publishing};
use crate::JoinerError;
use crate::load::{JoinProbe, SendProbe};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output, Rtc};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

/// The waker's token; peers use their id.
const WAKER: Token = Token(usize::MAX);
/// Largest datagram read.
const RECV_BUFFER: usize = 2048;
/// Longest poll sleep (commands wake the poll anyway).
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// A hub-local peer id.
pub type PeerId = usize;

type Reply<T> = oneshot::Sender<Result<T, JoinerError>>;

/// What a joiner task asks of the hub.
pub(super) enum Command {
    Create {
        publish: Option<SendProbe>,
        probe: Option<JoinProbe>,
        reply: Reply<(PeerId, tokio_mpsc::UnboundedReceiver<PeerNotice>)>,
    },
    Offer {
        id: PeerId,
        reply: Reply<(String, Option<String>)>,
    },
    AcceptAnswer {
        id: PeerId,
        sdp: String,
        reply: Reply<()>,
    },
    AcceptOffer {
        id: PeerId,
        sdp: String,
        owners: Vec<(String, String)>,
        reply: Reply<String>,
    },
    /// `track_published`: the publisher of a received mid (the server may hand an idle m-line
    /// to another publisher without an offer).
    SetOwner {
        id: PeerId,
        mid: String,
        participant_id: String,
    },
    Close {
        id: PeerId,
        reply: oneshot::Sender<PeerReport>,
    },
}

/// A handle on a running hub (cheap to clone). The hub thread ends when every handle is gone.
#[derive(Clone)]
pub struct Hub {
    commands: Sender<Command>,
    waker: Arc<Waker>,
}

impl Hub {
    /// Starts a hub thread. Peers bind UDP sockets on `bind_ip`; publishers loop `clip`.
    pub fn start(name: &str, bind_ip: std::net::IpAddr, clip: EncodedClip) -> std::io::Result<Hub> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (commands, inbox) = mpsc::channel();
        let state = HubLoop {
            poll,
            inbox,
            bind_ip,
            clip,
            peers: HashMap::new(),
            timers: BinaryHeap::new(),
            publishers: Vec::new(),
            next_id: 0,
            epoch: Instant::now(),
        };
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || state.run())?;
        Ok(Hub { commands, waker })
    }

    /// Sends a command and waits for its reply.
    pub(super) async fn ask<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, JoinerError> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| hub_gone())?
    }

    /// Sends a command without waiting.
    pub(super) fn send(&self, command: Command) -> Result<(), JoinerError> {
        self.commands.send(command).map_err(|_| hub_gone())?;
        self.waker.wake().map_err(JoinerError::Io)
    }
}

fn hub_gone() -> JoinerError {
    JoinerError::Io(std::io::Error::other("the media hub thread stopped"))
}

fn sdp_error(what: &str, err: impl std::fmt::Display) -> JoinerError {
    JoinerError::Protocol(format!("{what}: {err}"))
}

struct HubLoop {
    poll: Poll,
    inbox: Receiver<Command>,
    bind_ip: std::net::IpAddr,
    clip: EncodedClip,
    peers: HashMap<PeerId, HubPeer>,
    /// (deadline, peer); stale entries (the peer moved its deadline) are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    /// Peers that publish (paced every 20 ms).
    publishers: Vec<PeerId>,
    next_id: PeerId,
    epoch: Instant,
}

impl HubLoop {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let now = Instant::now();
            let sleep = self.next_deadline().map_or(MAX_SLEEP, |d| {
                d.saturating_duration_since(now).min(MAX_SLEEP)
            });
            if let Err(err) = self.poll.poll(&mut events, Some(sleep)) {
                if err.kind() == ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(%err, "media hub poll failed");
                return;
            }
            for event in &events {
                match event.token() {
                    WAKER => {
                        if !self.run_commands() {
                            return;
                        }
                    }
                    Token(id) => self.read(id, &mut buf),
                }
            }
            let now = Instant::now();
            self.run_timers(now);
            self.run_publishers(now);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        let frame = self
            .publishers
            .iter()
            .filter_map(|id| self.peers.get(id)?.publishing.as_ref()?.next_send)
            .min();
        match (timer, frame) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every queued command. Returns false once every handle is gone.
    fn run_commands(&mut self) -> bool {
        loop {
            match self.inbox.try_recv() {
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Create {
                publish,
                probe,
                reply,
            } => {
                let _ = reply.send(self.create(publish, probe));
            }
            Command::Offer { id, reply } => {
                let result = self.with_peer(id, offer);
                let _ = reply.send(result);
            }
            Command::AcceptAnswer { id, sdp, reply } => {
                let result = self.with_peer(id, |peer| {
                    let pending = peer.pending.take().ok_or_else(|| {
                        JoinerError::Protocol("an answer without an offer".into())
                    })?;
                    let answer = SdpAnswer::from_sdp_string(&sdp)
                        .map_err(|e| sdp_error("unparseable answer", e))?;
                    peer.rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| sdp_error("answer refused", e))
                });
                let _ = reply.send(result);
            }
            Command::AcceptOffer {
                id,
                sdp,
                owners,
                reply,
            } => {
                let result = self.with_peer(id, |peer| {
                    // Glare: the server's offer wins; dropping ours rolls it back.
                    peer.pending = None;
                    let offer = SdpOffer::from_sdp_string(&sdp)
                        .map_err(|e| sdp_error("unparseable offer", e))?;
                    let answer = peer
                        .rtc
                        .sdp_api()
                        .accept_offer(offer)
                        .map_err(|e| sdp_error("offer refused", e))?;
                    for (mid, participant_id) in owners {
                        peer.set_owner(Mid::from(mid.as_str()), participant_id);
                    }
                    Ok(answer.to_sdp_string())
                });
                let _ = reply.send(result);
            }
            Command::SetOwner {
                id,
                mid,
                participant_id,
            } => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.set_owner(Mid::from(mid.as_str()), participant_id);
                }
            }
            Command::Close { id, reply } => {
                if let Some(mut peer) = self.peers.remove(&id) {
                    self.publishers.retain(|p| *p != id);
                    let _ = self.poll.registry().deregister(&mut peer.socket);
                    let _ = reply.send(peer.close());
                }
            }
        }
    }

    /// Runs `f` on a peer, then lets str0m act on what changed.
    fn with_peer<T>(
        &mut self,
        id: PeerId,
        f: impl FnOnce(&mut HubPeer) -> Result<T, JoinerError>,
    ) -> Result<T, JoinerError> {
        let peer = self
            .peers
            .get_mut(&id)
            .ok_or_else(|| JoinerError::Protocol("the peer is closed".into()))?;
        let result = f(peer);
        let _ = peer.rtc.handle_input(Input::Timeout(Instant::now()));
        self.drain(id);
        result
    }

    fn create(
        &mut self,
        publish: Option<SendProbe>,
        probe: Option<JoinProbe>,
    ) -> Result<(PeerId, tokio_mpsc::UnboundedReceiver<PeerNotice>), JoinerError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, 0))?;
        let local = socket.local_addr()?;
        self.poll
            .registry()
            .register(&mut socket, Token(id), Interest::READABLE)?;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate = Candidate::host(local, "udp")
            .map_err(|e| JoinerError::Io(std::io::Error::other(e.to_string())))?;
        rtc.add_local_candidate(candidate);
        let (notices, notices_rx) = tokio_mpsc::unbounded_channel();
        let mut peer = HubPeer::new(rtc, socket, local, notices, probe);
        if let Some(send_probe) = publish {
            // The m-line is added by the first offer; remember the probe until then.
            peer.publishing = Some(Publishing::new(send_probe));
            self.publishers.push(id);
        }
        self.peers.insert(id, peer);
        Ok((id, notices_rx))
    }

    /// Reads a peer's socket until it would block.
    fn read(&mut self, id: PeerId, buf: &mut [u8]) {
        loop {
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let (n, source) = match peer.socket.recv_from(buf) {
                Ok(read) => read,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    // ICMP errors (server gone) surface here; str0m's consent check decides.
                    tracing::debug!(%err, "peer socket read");
                    return;
                }
            };
            let now = Instant::now();
            let Ok(receive) = Receive::new(Protocol::Udp, source, peer.local, &buf[..n]) else {
                continue;
            };
            if let Err(err) = peer.rtc.handle_input(Input::Receive(now, receive)) {
                tracing::debug!(%err, "str0m refused a datagram");
            }
            self.drain(id);
        }
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                return;
            }
            self.timers.pop();
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            if peer.next_timeout != Some(at) {
                continue; // stale
            }
            peer.next_timeout = None;
            if let Err(err) = peer.rtc.handle_input(Input::Timeout(now)) {
                peer.fail(format!("str0m: {err}"));
            }
            self.drain(id);
        }
    }

    fn run_publishers(&mut self, now: Instant) {
        for index in 0..self.publishers.len() {
            let id = self.publishers[index];
            let wrote = self
                .peers
                .get_mut(&id)
                .is_some_and(|peer| peer.publish_due(&self.clip, now));
            if wrote {
                self.drain(id);
            }
        }
    }

    /// Polls a peer's output until str0m asks for a timeout: datagrams go out, events are
    /// handled, and the deadline goes on the timer heap.
    fn drain(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        loop {
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    if peer.next_timeout != Some(at) {
                        peer.next_timeout = Some(at);
                        self.timers.push(Reverse((at, id)));
                    }
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    if let Err(err) = peer.socket.send_to(&t.contents, t.destination) {
                        tracing::debug!(%err, "peer socket send");
                    }
                }
                Ok(Output::Event(event)) => peer.on_event(event, self.epoch),
                Err(err) => {
                    peer.fail(format!("str0m: {err}"));
                    return;
                }
            }
        }
    }
}

/// Creates an offer with one audio m-line (send-receive when publishing, receive-only
/// otherwise). Returns the SDP and the published mid.
fn offer(peer: &mut HubPeer) -> Result<(String, Option<String>), JoinerError> {
    let direction = if peer.publishing.is_some() {
        Direction::SendRecv
    } else {
        Direction::RecvOnly
    };
    let mut api = peer.rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, direction, None, None, None);
    let (offer, pending) = api
        .apply()
        .ok_or_else(|| JoinerError::Protocol("nothing to offer".into()))?;
    peer.pending = Some(pending);
    let published = peer.publishing.as_mut().map(|p| {
        p.mid = Some(mid);
        mid.to_string()
    });
    Ok((offer.to_sdp_string(), published))
}
