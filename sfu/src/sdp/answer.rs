//! Fix-ups of the SDP str0m writes, and what the worker reads back from a completed exchange.

use super::text::SdpText;

/// Gives every rejected section of `answer` that has no format of its own the first payload
/// type the client offered in that section, with its `a=rtpmap` line.
///
/// str0m answers a section it rejects for a media kind it has no codec for (video offered into
/// a voice room) as `m=video 0 UDP/TLS/RTP/SAVPF 0` with no `a=rtpmap`. That is valid SDP, but
/// some clients (aiortc) cannot apply it; echoing the offered format, as ended tracks already
/// are, is what browsers write too. Sections are matched by index and mid; anything that does
/// not line up is left as it is.
pub fn echo_rejected_formats(answer: &str, offer: &str) -> String {
    let offer = SdpText::parse(offer);
    let mut out = SdpText::parse(answer);
    let mut changed = false;
    for (section, offered) in out.sections.iter_mut().zip(&offer.sections) {
        if !section.port_is_zero() || section.has_rtpmap() || section.mid() != offered.mid() {
            continue;
        }
        let Some(pt) = offered.formats().first().map(|f| f.to_string()) else {
            continue;
        };
        section.set_formats(&[pt.as_str()]);
        if let Some(rtpmap) = offered.rtpmap_line(&pt) {
            section.lines.push(rtpmap.to_string());
        }
        changed = true;
    }
    if changed {
        out.render()
    } else {
        answer.to_string()
    }
}

/// What one SDP of a completed offer/answer says about its sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionCensus {
    /// Number of m= sections.
    pub sections: usize,
    /// Mids of every section, in order.
    pub mids: Vec<String>,
}

impl SectionCensus {
    /// Counts the sections of `sdp`.
    pub fn of(sdp: &str) -> SectionCensus {
        let text = SdpText::parse(sdp);
        SectionCensus {
            sections: text.sections.len(),
            mids: text.sections.iter().filter_map(|s| s.mid()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\ns=-\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n";

    const ANSWER: &str = "v=0\r\ns=-\r\na=group:BUNDLE 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=inactive\r\n";

    #[test]
    fn rejected_video_echoes_the_offered_format() {
        let fixed = echo_rejected_formats(ANSWER, OFFER);
        assert!(
            fixed.contains("m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n"),
            "{fixed}"
        );
        assert!(!fixed.contains("rtx"), "only the first format: {fixed}");
        assert!(fixed.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    }

    #[test]
    fn sections_with_formats_are_left_alone() {
        let stopped = ANSWER.replace(
            "m=video 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=inactive\r\n",
            "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n",
        );
        assert_eq!(echo_rejected_formats(&stopped, OFFER), stopped);
        assert_eq!(echo_rejected_formats(OFFER, OFFER), OFFER);
    }

    #[test]
    fn mismatched_sections_are_left_alone() {
        let other = OFFER.replace("a=mid:1", "a=mid:7");
        assert_eq!(echo_rejected_formats(ANSWER, &other), ANSWER);
        assert_eq!(echo_rejected_formats(ANSWER, ""), ANSWER);
        assert_eq!(echo_rejected_formats("", OFFER), "");
    }

    #[test]
    fn census_counts_sections_and_lists_mids() {
        let c = SectionCensus::of(ANSWER);
        assert_eq!(c.sections, 2);
        assert_eq!(c.mids, ["0", "1"]);
        assert_eq!(SectionCensus::of("garbage"), SectionCensus::default());
    }
}
