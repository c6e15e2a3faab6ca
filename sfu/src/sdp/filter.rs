//! Applies media policy to a client's SDP offer before str0m sees it.
//!
//! A disallowed m-line is rejected the standard way (port 0, dropped from the BUNDLE group), so the
//! answer rejects it too; a source the ticket may not publish has its direction narrowed so the answer
//! tells the client not to send. Server-created m-lines (our subscriptions) pass through untouched.
//! A participant publishes at most one track per source: a second sending m-line for a source is
//! rejected like a disallowed one.

use std::collections::HashSet;

use super::text::{SdpText, Section};
use crate::error::ErrorCode;
use crate::policy::{Grants, MediaKind, RoomPolicy, Source, TrackDeclaration};
use crate::video_policy::VideoCodec;

/// What the filter decided for one client m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineVerdict {
    /// The m-line's mid.
    pub mid: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// Declared (or assumed) source.
    pub source: Source,
    /// Whether the client may publish on it after filtering.
    pub publishes: bool,
    /// The policy error raised for it, if any.
    pub refusal: Option<ErrorCode>,
}

/// Result of filtering one offer.
#[derive(Debug)]
pub struct FilteredOffer {
    /// The rewritten SDP, for str0m.
    pub sdp: String,
    /// Verdicts for the client-owned audio/video m-lines.
    pub lines: Vec<LineVerdict>,
    /// Number of m= sections in the offer.
    pub sections: usize,
}

/// Rules the filter applies.
pub struct OfferRules<'a> {
    /// The room's policy.
    pub policy: &'a RoomPolicy,
    /// The peer's publish grants.
    pub grants: &'a Grants,
    /// The client's source declarations.
    pub declarations: &'a [TrackDeclaration],
    /// Mids the server created (subscriptions); left as they are.
    pub server_mids: &'a HashSet<String>,
    /// Video codecs the room allows.
    pub video_codecs: &'a [VideoCodec],
    /// Whether the peer may publish video (the room's video publisher limit).
    pub may_publish_video: bool,
}

/// Policy views of a section.
trait PolicyView {
    fn media_kind(&self) -> Option<MediaKind>;
    fn direction(&self) -> &'static str;
    fn set_direction(&mut self, new: &str);
    fn has_opus(&self) -> bool;
    fn has_any_of(&self, codecs: &[VideoCodec]) -> bool;
}

impl PolicyView for Section {
    fn media_kind(&self) -> Option<MediaKind> {
        match self.media_type()? {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }

    fn direction(&self) -> &'static str {
        for d in ["sendrecv", "sendonly", "recvonly", "inactive"] {
            if self.lines.iter().any(|l| l.trim_end() == format!("a={d}")) {
                return d;
            }
        }
        "sendrecv"
    }

    fn set_direction(&mut self, new: &str) {
        let mut replaced = false;
        for l in &mut self.lines {
            if matches!(
                l.trim_end(),
                "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
            ) {
                *l = format!("a={new}");
                replaced = true;
            }
        }
        if !replaced {
            self.lines.push(format!("a={new}"));
        }
    }

    fn has_any_of(&self, codecs: &[VideoCodec]) -> bool {
        self.lines.iter().any(|l| {
            l.strip_prefix("a=rtpmap:")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(_, enc)| codecs.iter().any(|c| c.is_encoding(enc)))
        })
    }

    fn has_opus(&self) -> bool {
        self.lines.iter().any(|l| {
            l.strip_prefix("a=rtpmap:")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(_, enc)| enc.to_ascii_lowercase().starts_with("opus/48000"))
        })
    }
}

/// Filters `sdp` under `rules`. Never panics on malformed text; str0m reports what it cannot parse.
pub fn filter_offer(sdp: &str, rules: &OfferRules<'_>) -> FilteredOffer {
    let mut text = SdpText::parse(sdp);
    let mut verdicts = Vec::new();
    let mut rejected_mids: Vec<String> = Vec::new();
    let mut published: Vec<Source> = Vec::new();
    for section in &mut text.sections {
        let (Some(kind), Some(mid)) = (section.media_kind(), section.mid()) else {
            continue;
        };
        if rules.server_mids.contains(&mid) || section.port_is_zero() {
            continue;
        }
        let source = rules
            .declarations
            .iter()
            .find(|d| d.mid == mid)
            .map(|d| d.source)
            .unwrap_or_else(|| Source::default_for(kind));
        let direction = section.direction();
        let sending = matches!(direction, "sendrecv" | "sendonly");
        let mut verdict = LineVerdict {
            mid: mid.clone(),
            kind,
            source,
            publishes: false,
            refusal: None,
        };
        let kind_ok = source.kind() == kind
            && rules.policy.accepts_kind(kind)
            && rules.policy.accepts_source(source);
        if !kind_ok {
            section.set_port_zero();
            rejected_mids.push(mid);
            verdict.refusal = sending.then_some(ErrorCode::MediaSourceNotAllowed);
        } else if (kind == MediaKind::Audio && !section.has_opus())
            || (kind == MediaKind::Video && !section.has_any_of(rules.video_codecs))
        {
            section.set_port_zero();
            rejected_mids.push(mid);
            verdict.refusal = Some(ErrorCode::CodecNotAllowed);
        } else if sending && published.contains(&source) {
            // One track per source and participant: what keeps every SDP in the room bounded.
            section.set_port_zero();
            rejected_mids.push(mid);
            verdict.refusal = Some(ErrorCode::DuplicateSource);
        } else if sending && !rules.grants.allows(source) {
            section.set_direction(if direction == "sendrecv" {
                "recvonly"
            } else {
                "inactive"
            });
            verdict.refusal = Some(ErrorCode::PublishNotPermitted);
        } else if sending && kind == MediaKind::Video && !rules.may_publish_video {
            section.set_direction(if direction == "sendrecv" {
                "recvonly"
            } else {
                "inactive"
            });
            verdict.refusal = Some(ErrorCode::VideoPublishersFull);
        } else if sending {
            // The server never sends on a client's publishing m-line: subscriptions get their own.
            section.set_direction("sendonly");
            verdict.publishes = true;
            published.push(source);
        }
        verdicts.push(verdict);
    }

    for line in &mut text.session {
        if let Some(rest) = line.strip_prefix("a=group:BUNDLE") {
            let kept: Vec<&str> = rest
                .split_whitespace()
                .filter(|m| !rejected_mids.iter().any(|r| r == m))
                .collect();
            *line = format!("a=group:BUNDLE {}", kept.join(" "));
        }
    }

    FilteredOffer {
        sections: text.sections.len(),
        sdp: text.render(),
        lines: verdicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RoomKind;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendrecv\r\na=rtpmap:96 VP8/90000\r\n";

    fn rules<'a>(
        policy: &'a RoomPolicy,
        grants: &'a Grants,
        server_mids: &'a HashSet<String>,
    ) -> OfferRules<'a> {
        OfferRules {
            policy,
            grants,
            declarations: &[],
            server_mids,
            video_codecs: &VideoCodec::ALL,
            may_publish_video: true,
        }
    }

    #[test]
    fn video_in_voice_room_is_rejected_and_unbundled() {
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants {
            microphone: true,
            ..Default::default()
        };
        let none = HashSet::new();
        let f = filter_offer(OFFER, &rules(&policy, &grants, &none));
        assert!(f.sdp.contains("m=video 0 UDP/TLS/RTP/SAVPF 96"));
        assert!(f.sdp.contains("a=group:BUNDLE 0\r\n"));
        assert!(f.sdp.contains("a=mid:0\r\na=sendonly"));
        assert_eq!(f.lines[0].refusal, None);
        assert!(f.lines[0].publishes);
        assert_eq!(f.lines[1].refusal, Some(ErrorCode::MediaSourceNotAllowed));
    }

    #[test]
    fn missing_grant_narrows_direction() {
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants::default();
        let none = HashSet::new();
        let f = filter_offer(OFFER, &rules(&policy, &grants, &none));
        assert!(f.sdp.contains("a=mid:0\r\na=recvonly"));
        assert_eq!(f.lines[0].refusal, Some(ErrorCode::PublishNotPermitted));
        assert!(!f.lines[0].publishes);
    }

    #[test]
    fn audio_without_opus_is_refused() {
        let sdp = OFFER.replace("opus/48000/2", "PCMU/8000");
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants {
            microphone: true,
            ..Default::default()
        };
        let none = HashSet::new();
        let f = filter_offer(&sdp, &rules(&policy, &grants, &none));
        assert_eq!(f.lines[0].refusal, Some(ErrorCode::CodecNotAllowed));
        assert!(f.sdp.contains("a=group:BUNDLE \r\n"));
    }

    #[test]
    fn second_track_of_a_source_is_rejected() {
        let sdp = OFFER.replace(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendrecv\r\na=rtpmap:96 VP8/90000",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2",
        );
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants {
            microphone: true,
            ..Default::default()
        };
        let none = HashSet::new();
        let f = filter_offer(&sdp, &rules(&policy, &grants, &none));
        assert!(f.lines[0].publishes);
        assert!(!f.lines[1].publishes);
        assert_eq!(f.lines[1].refusal, Some(ErrorCode::DuplicateSource));
        assert!(f.sdp.contains("m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:1"));
        assert!(f.sdp.contains("a=group:BUNDLE 0\r\n"));
        assert_eq!(f.sections, 2);
    }

    #[test]
    fn server_mids_pass_through() {
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants::default();
        let server: HashSet<String> = ["1".to_string()].into();
        let sdp = OFFER.replace(
            "m=video 9 UDP/TLS/RTP/SAVPF 96",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        );
        let f = filter_offer(&sdp, &rules(&policy, &grants, &server));
        assert_eq!(f.lines.len(), 1);
    }

    #[test]
    fn garbage_does_not_panic() {
        let policy = RoomPolicy::for_kind(RoomKind::Voice);
        let grants = Grants::default();
        let none = HashSet::new();
        for s in [
            "",
            "m=",
            "m=audio",
            "\u{0}\u{1}",
            "a=group:BUNDLE\r\nm=video x",
        ] {
            let _ = filter_offer(s, &rules(&policy, &grants, &none));
        }
    }
}
