//! One peer inside the media hub: its str0m `Rtc` (RTP mode, full ICE as a client), its UDP
//! socket, what it publishes and what it receives.

use super::frames::EncodedClip;
use crate::load::{RecvProbe, SendProbe};
use crate::peer::SenderReport;
use crate::receiver::stats::RtpStats;
use crate::receiver::{ReceiverReport, RemoteTrackInfo};
use mio::net::UdpSocket;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::SdpPendingOffer;
use str0m::media::{Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc};
use str0m::{Event, IceConnectionState, Input, Rtc};
use tokio::sync::mpsc::UnboundedSender;

/// Opus RTP clock.
const CLOCK_RATE: f64 = 48_000.0;
/// RTP timestamp step of one 20 ms frame.
const FRAME_TICKS: u32 = 960;
/// Publishing pace.
pub(super) const FRAME_PERIOD: Duration = Duration::from_millis(20);
/// Levels quieter than this (-dBov) are flagged as "no voice".
const VOICE_LEVEL_THRESHOLD: u8 = 60;

/// What the hub tells a peer's joiner task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerNotice {
    /// ICE and DTLS are up.
    Connected,
    /// The connection failed or was lost.
    Failed(String),
}

/// What a closed peer reports.
#[derive(Debug, Default)]
pub struct PeerReport {
    /// The publishing side, if it published.
    pub sent: Option<SenderReport>,
    /// One entry per remote track received.
    pub received: Vec<ReceiverReport>,
}

/// A publisher's state.
pub(super) struct Publishing {
    /// The published m-line, once offered.
    pub(super) mid: Option<Mid>,
    pub(super) probe: SendProbe,
    pub(super) next_send: Option<Instant>,
    frames_sent: u64,
    payload_bytes: u64,
    send_errors: u64,
}

impl Publishing {
    pub(super) fn new(probe: SendProbe) -> Self {
        Self {
            mid: None,
            probe,
            next_send: None,
            frames_sent: 0,
            payload_bytes: 0,
            send_errors: 0,
        }
    }

    fn report(&self) -> SenderReport {
        SenderReport {
            packets_sent: self.frames_sent,
            transport_packets_sent: None,
            transport_bytes_sent: None,
            payload_bytes_sent: self.payload_bytes,
            send_errors: self.send_errors,
            audio_seconds: self.frames_sent as f64 * FRAME_PERIOD.as_secs_f64(),
            source_ended: false,
        }
    }
}

/// One received remote track.
struct RecvTrack {
    info: RemoteTrackInfo,
    stats: RtpStats,
    probe: Option<RecvProbe>,
}

/// A peer owned by the hub.
pub(super) struct HubPeer {
    pub(super) rtc: Rtc,
    pub(super) socket: UdpSocket,
    pub(super) local: SocketAddr,
    pub(super) next_timeout: Option<Instant>,
    pub(super) pending: Option<SdpPendingOffer>,
    pub(super) publishing: Option<Publishing>,
    pub(super) connected: bool,
    pub(super) failed: bool,
    notices: UnboundedSender<PeerNotice>,
    /// Publisher participant id of each received mid (from the offers' `msid`).
    owners: HashMap<Mid, String>,
    tracks: HashMap<Ssrc, RecvTrack>,
    /// Tracks whose m-line the server handed to another publisher (reported at the end).
    handed_over: Vec<RecvTrack>,
    /// Creates the receive probe of a publisher's track.
    probe: Option<crate::load::JoinProbe>,
}

impl HubPeer {
    pub(super) fn new(
        rtc: Rtc,
        socket: UdpSocket,
        local: SocketAddr,
        notices: UnboundedSender<PeerNotice>,
        probe: Option<crate::load::JoinProbe>,
    ) -> Self {
        Self {
            rtc,
            socket,
            local,
            next_timeout: None,
            pending: None,
            publishing: None,
            connected: false,
            failed: false,
            notices,
            owners: HashMap::new(),
            tracks: HashMap::new(),
            handed_over: Vec::new(),
            probe,
        }
    }

    /// Remembers which publisher sends on `mid`.
    /// The server reuses idle m-lines for other publishers under the same mid and SSRC: a new
    /// owner closes the mid's current track, and its next packet starts another.
    pub(super) fn set_owner(&mut self, mid: Mid, participant_id: String) {
        let previous = self.owners.insert(mid, participant_id.clone());
        if previous.is_some_and(|p| p != participant_id) {
            let mid = mid.to_string();
            let ssrcs: Vec<Ssrc> = self
                .tracks
                .iter()
                .filter(|(_, t)| t.info.mid.as_deref() == Some(mid.as_str()))
                .map(|(ssrc, _)| *ssrc)
                .collect();
            for ssrc in ssrcs {
                if let Some(track) = self.tracks.remove(&ssrc) {
                    self.handed_over.push(track);
                }
            }
        }
    }

    /// Marks the peer failed and tells its task (once).
    pub(super) fn fail(&mut self, reason: String) {
        if !self.failed {
            self.failed = true;
            let _ = self.notices.send(PeerNotice::Failed(reason));
        }
    }

    /// Handles one str0m event. `epoch` turns arrival instants into RTP clock units.
    pub(super) fn on_event(&mut self, event: Event, epoch: Instant) {
        match event {
            Event::Connected if !self.connected => {
                self.connected = true;
                let _ = self.notices.send(PeerNotice::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.fail("ICE disconnected".into());
            }
            Event::RtpPacket(packet) => self.on_rtp(packet, epoch),
            _ => {}
        }
    }

    fn on_rtp(&mut self, packet: RtpPacket, epoch: Instant) {
        let ssrc = packet.header.ssrc;
        if !self.tracks.contains_key(&ssrc) {
            let mid = self
                .rtc
                .direct_api()
                .stream_rx(&ssrc)
                .map(|stream| stream.mid());
            let participant_id = mid
                .and_then(|m| self.owners.get(&m).cloned())
                .unwrap_or_default();
            let probe = self.probe.as_ref().map(|p| p.receiver(&participant_id));
            self.tracks.insert(
                ssrc,
                RecvTrack {
                    info: RemoteTrackInfo {
                        participant_id,
                        user_id: None,
                        mid: mid.map(|m| m.to_string()),
                        track_id: String::new(),
                    },
                    stats: RtpStats::default(),
                    probe,
                },
            );
        }
        let Some(track) = self.tracks.get_mut(&ssrc) else {
            return;
        };
        let arrival = packet
            .timestamp
            .saturating_duration_since(epoch)
            .as_secs_f64()
            * CLOCK_RATE;
        // The low 16 bits of the extended sequence number are the wire's.
        track
            .stats
            .record(*packet.seq_no as u16, packet.header.timestamp, arrival);
        if let Some(probe) = &mut track.probe {
            probe.on_receive(&packet.payload, packet.timestamp);
        }
    }

    /// Writes frame `n` of `clip` if this peer publishes and is due. Returns whether it wrote
    /// (the caller then runs str0m's timeout so the packet leaves).
    pub(super) fn publish_due(&mut self, clip: &EncodedClip, now: Instant) -> bool {
        let Some(publishing) = self.publishing.as_mut() else {
            return false;
        };
        let Some(mid) = publishing.mid.filter(|_| self.connected && !self.failed) else {
            return false;
        };
        let due = *publishing.next_send.get_or_insert(now);
        if now < due {
            return false;
        }
        publishing.next_send = Some(due + FRAME_PERIOD);
        let n = publishing.frames_sent;
        let frame = clip.frame(n);
        let Some(pt) = opus_pt(&mut self.rtc, mid) else {
            publishing.send_errors += 1;
            return false;
        };
        let mut direct = self.rtc.direct_api();
        let Some(tx) = direct.stream_tx_by_mid(mid, None) else {
            publishing.send_errors += 1;
            return false;
        };
        let ext = ExtensionValues {
            audio_level: Some(-(frame.level.min(127) as i8)),
            voice_activity: Some(frame.level < VOICE_LEVEL_THRESHOLD),
            ..Default::default()
        };
        let ticks = (n as u32).wrapping_mul(FRAME_TICKS);
        tx.write_rtp(
            RtpWrite::new(pt, n.into(), ticks, now, frame.payload.clone())
                .marker(n == 0)
                .ext_vals(ext),
        );
        publishing.probe.on_send(&frame.payload, now);
        publishing.frames_sent += 1;
        publishing.payload_bytes += frame.payload.len() as u64;
        let _ = self.rtc.handle_input(Input::Timeout(now));
        true
    }

    /// Ends the connection and reports (dropping the receive probes flushes their samples).
    pub(super) fn close(mut self) -> PeerReport {
        self.rtc.disconnect();
        PeerReport {
            sent: self.publishing.as_ref().map(Publishing::report),
            received: self
                .tracks
                .into_values()
                .chain(self.handed_over)
                .map(|t| ReceiverReport {
                    info: t.info,
                    packets_received: t.stats.received(),
                    packets_lost: t.stats.lost(),
                    loss_percent: t.stats.loss_percent(),
                    jitter_ms: t.stats.jitter_ms(CLOCK_RATE as u32),
                    ..ReceiverReport::default()
                })
                .collect(),
        }
    }
}

/// The Opus payload type the answer accepted on `mid`.
fn opus_pt(rtc: &mut Rtc, mid: Mid) -> Option<Pt> {
    rtc.media(mid)?.remote_pts().first().copied()
}
