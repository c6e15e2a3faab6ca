//! Who is in the room, and which remote track belongs to whom.

use crate::peer::sdp::media_sections;
use crate::receiver::{RemoteTrackInfo, sanitize_file_stem};
use crate::signaling_client::Participant;
use std::collections::{HashMap, HashSet};

/// The joiner's view of the room.
#[derive(Debug, Default)]
pub struct Roster {
    participants: HashMap<String, Participant>,
    mid_owner: HashMap<String, String>,
    used_wav_stems: HashSet<String>,
}

impl Roster {
    /// Adds or replaces a participant.
    pub fn upsert(&mut self, participant: Participant) {
        self.participants
            .insert(participant.participant_id.clone(), participant);
    }

    /// Removes a participant.
    pub fn remove(&mut self, participant_id: &str) -> Option<Participant> {
        self.participants.remove(participant_id)
    }

    /// Remembers that remote media on `mid` comes from `participant_id` (`track_published`).
    pub fn track_published(&mut self, mid: String, participant_id: String) {
        self.mid_owner.insert(mid, participant_id);
    }

    /// The user id of a participant, if known.
    pub fn user_id(&self, participant_id: &str) -> Option<&str> {
        self.participants
            .get(participant_id)
            .map(|p| p.user_id.as_str())
    }

    /// Identifies a remote track from its `msid` stream/track ids and the remote SDP.
    ///
    /// The owner of the mid (from `track_published`) first; the msid stream id, which the
    /// protocol sets to the publisher's participant id when the m-line is offered, otherwise.
    pub fn identify(&self, stream_id: &str, track_id: &str, remote_sdp: &str) -> RemoteTrackInfo {
        let mid = media_sections(remote_sdp)
            .into_iter()
            .find(|s| s.msid.as_ref().is_some_and(|(_, t)| t == track_id))
            .and_then(|s| s.mid);
        // The owner `track_published` last named for the mid wins: the server reuses idle m-lines
        // for other publishers without a new offer, so the msid can be stale.
        let participant_id = match mid.as_ref().and_then(|m| self.mid_owner.get(m)) {
            Some(owner) => owner.clone(),
            None => stream_id.to_owned(),
        };
        RemoteTrackInfo {
            user_id: self.user_id(&participant_id).map(str::to_owned),
            participant_id,
            mid,
            track_id: track_id.to_owned(),
        }
    }

    /// A unique, safe WAV file stem for a track: its user id, else its participant id;
    /// suffixed when a second track would reuse a name.
    pub fn wav_stem(&mut self, info: &RemoteTrackInfo) -> String {
        self.file_stem(info, None)
    }

    /// A unique, safe file stem for a received video track: as [`Roster::wav_stem`], with its
    /// source (`alice-camera`).
    pub fn video_stem(&mut self, info: &RemoteTrackInfo, source: &str) -> String {
        self.file_stem(info, Some(source))
    }

    fn file_stem(&mut self, info: &RemoteTrackInfo, suffix: Option<&str>) -> String {
        let named = info
            .user_id
            .as_deref()
            .filter(|u| !u.is_empty())
            .or(Some(info.participant_id.as_str()).filter(|p| !p.is_empty()))
            .unwrap_or(info.track_id.as_str());
        let base = match suffix {
            Some(suffix) => format!("{named}-{suffix}"),
            None => named.to_owned(),
        };
        let mut stem = sanitize_file_stem(&base);
        if self.used_wav_stems.contains(&stem) && !info.participant_id.is_empty() {
            stem = sanitize_file_stem(&format!("{base}-{}", info.participant_id));
        }
        let unique = if self.used_wav_stems.contains(&stem) {
            (2..)
                .map(|n| format!("{stem}-{n}"))
                .find(|s| !self.used_wav_stems.contains(s))
                .unwrap_or(stem)
        } else {
            stem
        };
        self.used_wav_stems.insert(unique.clone());
        unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(pid: &str, user: &str) -> Participant {
        Participant {
            participant_id: pid.into(),
            user_id: user.into(),
            device_id: "d".into(),
            tracks: vec![],
            speaking: false,
            muted: Vec::new(),
            server_muted: false,
        }
    }

    const REMOTE_SDP: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendonly\r\na=msid:p_a t_a\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=sendonly\r\na=msid:- t_b\r\n";

    #[test]
    fn identifies_by_msid_then_by_mid() {
        let mut roster = Roster::default();
        roster.upsert(participant("p_a", "alice"));
        roster.upsert(participant("p_b", "bob"));
        let a = roster.identify("p_a", "t_a", REMOTE_SDP);
        assert_eq!(a.participant_id, "p_a");
        assert_eq!(a.user_id.as_deref(), Some("alice"));
        assert_eq!(a.mid.as_deref(), Some("1"));
        roster.track_published("2".into(), "p_b".into());
        let b = roster.identify("-", "t_b", REMOTE_SDP);
        assert_eq!(b.participant_id, "p_b");
        assert_eq!(b.user_id.as_deref(), Some("bob"));
        let unknown = roster.identify("p_x", "t_x", REMOTE_SDP);
        assert_eq!(unknown.participant_id, "p_x");
        assert_eq!(unknown.user_id, None);
    }

    #[test]
    fn wav_stems_are_unique() {
        let mut roster = Roster::default();
        let info = |pid: &str, user: Option<&str>| RemoteTrackInfo {
            participant_id: pid.into(),
            user_id: user.map(Into::into),
            mid: None,
            track_id: "t".into(),
        };
        assert_eq!(roster.wav_stem(&info("p_1", Some("alice"))), "alice");
        assert_eq!(roster.wav_stem(&info("p_2", Some("alice"))), "alice-p_2");
        assert_eq!(roster.wav_stem(&info("p_2", Some("alice"))), "alice-p_2-2");
        assert_eq!(roster.wav_stem(&info("p_3", None)), "p_3");
        assert_eq!(roster.wav_stem(&info("", None)), "t");
    }
}
