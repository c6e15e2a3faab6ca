//! Datagrams in, str0m events out, transmits queued for `poll_output`.

use std::time::Instant;

use str0m::bwe::BweKind;
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input};

use super::{Engine, Fault};
use crate::dtls_failure::DtlsFailure;
use crate::events::PeerEvent;
use crate::ids::PeerId;
use crate::stats::WorkerStats;
use crate::stun;

impl Engine {
    pub(super) fn on_datagram(&mut self, data: &[u8], source: std::net::SocketAddr, now: Instant) {
        let by_ufrag = stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied());
        let Some(id) = by_ufrag.or_else(|| self.by_addr.get(&source).copied()) else {
            WorkerStats::add(&self.stats.datagrams_unroutable, 1);
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.advertised, data) else {
            WorkerStats::add(&self.stats.datagrams_rejected, 1);
            return;
        };
        let input = Input::Receive(now, receive);
        if !peer.rtc.accepts(&input) {
            WorkerStats::add(&self.stats.datagrams_rejected, 1);
            return;
        }
        if let Err(e) = peer.rtc.handle_input(input) {
            WorkerStats::add(&self.stats.datagrams_rejected, 1);
            // dimpl's errors are fatal: the handshake cannot go on.
            match DtlsFailure::classify(&e) {
                Some(failure) => self.drained.failed.push((id, Fault::Dtls(failure))),
                None => tracing::debug!(peer = %id, error = %e, "datagram refused"),
            }
        }
        peer.last_rx = Some(now);
        if by_ufrag.is_some() {
            self.by_addr.insert(source, id);
        }
        self.drain_peer(id);
    }

    /// Handles everything the last drains produced, until nothing is left.
    pub(super) fn process_drained(&mut self, now: Instant) {
        loop {
            // New video routes start decoding at a keyframe.
            for key in std::mem::take(&mut self.keyframes_wanted) {
                let top = self.track(&key).map(|t| t.top_layer()).unwrap_or(0);
                self.request_keyframe(&key, top, now);
            }
            self.out.extend(self.drained.transmits.drain(..));
            if self.drained.events.is_empty()
                && self.drained.failed.is_empty()
                && self.keyframes_wanted.is_empty()
            {
                return;
            }
            std::mem::swap(&mut self.drained.events, &mut self.scratch_events);
            let mut events = std::mem::take(&mut self.scratch_events);
            for (id, event) in events.drain(..) {
                self.on_rtc_event(id, event, now);
            }
            self.scratch_events = events;
            let failed: Vec<(PeerId, Fault)> = self.drained.failed.drain(..).collect();
            for (id, fault) in failed {
                self.fail_peer(id, fault);
            }
        }
    }

    fn on_rtc_event(&mut self, id: PeerId, event: Event, now: Instant) {
        match event {
            Event::RtpPacket(packet) => self.forward(id, packet, now),
            Event::KeyframeRequest(request) => self.on_keyframe_request(id, request.mid, now),
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.bwe_estimate = Some(estimate.as_u64());
                }
            }
            Event::Connected => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.connected = true;
                    self.events.send_to_peer(id, PeerEvent::Connected);
                    tracing::debug!(peer = %id, "media connected");
                }
                // Only now do others learn of its tracks: no one sees a publisher whose media
                // never flows.
                self.publish_declared_tracks(id);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.drained
                    .failed
                    .push((id, Fault::Lost("ICE disconnected".into())));
            }
            _ => {}
        }
    }
}
