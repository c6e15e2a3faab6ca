//! Fix-ups of the SDP str0m writes, and what the worker reads back from a completed exchange.

use std::collections::HashMap;

use super::text::SdpText;

/// The first payload type a client offered in a section, with its `a=rtpmap` line if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedFormat {
    /// Payload type.
    pub pt: String,
    /// Its whole `a=rtpmap:` line.
    pub rtpmap: Option<String>,
}

/// The first format of every section of `offer`, by mid.
pub fn offered_formats(offer: &str) -> HashMap<String, OfferedFormat> {
    SdpText::parse(offer)
        .sections
        .iter()
        .filter_map(|s| {
            let pt = s.formats().first()?.to_string();
            let rtpmap = s.rtpmap_line(&pt).map(str::to_string);
            Some((s.mid()?, OfferedFormat { pt, rtpmap }))
        })
        .collect()
}

/// The line that tells a client no candidates will come for a section.
const END_OF_CANDIDATES: &str = "a=end-of-candidates";

/// Finishes every rejected or stopped (port 0) section of `sdp`:
///
/// - one that has no `a=rtpmap` gets the format the client offered in it (`formats`, by mid).
///   str0m writes a section it rejected for a media kind it has no codec for (video offered into
///   a voice room) as `m=video 0 UDP/TLS/RTP/SAVPF 0` with no `a=rtpmap`, in its answer and in
///   every later offer. That is valid SDP, but some clients (aiortc) cannot apply it; echoing the
///   offered format, as ended tracks already are, is what browsers write too. Sections whose mid
///   `formats` does not know keep their formats.
/// - every one gets `a=end-of-candidates`. A rejected section is outside the BUNDLE group, and
///   aiortc 1.16 (which does not act on a zero port) keeps a transport of its own for it and
///   waits for its ICE candidates before it starts any section after it: without this line it
///   never received on the server's later sections. With it, that transport fails at once and the
///   rest connect.
pub fn finish_rejected_sections(sdp: &str, formats: &HashMap<String, OfferedFormat>) -> String {
    let mut out = SdpText::parse(sdp);
    let mut changed = false;
    for section in &mut out.sections {
        if !section.port_is_zero() {
            continue;
        }
        if !section.has_rtpmap()
            && let Some(format) = section.mid().and_then(|mid| formats.get(&mid))
        {
            section.set_formats(&[format.pt.as_str()]);
            if let Some(rtpmap) = &format.rtpmap {
                section.lines.push(rtpmap.clone());
            }
            changed = true;
        }
        if !section.lines.iter().any(|l| l.trim() == END_OF_CANDIDATES) {
            section.lines.push(END_OF_CANDIDATES.to_string());
            changed = true;
        }
    }
    if changed {
        out.render()
    } else {
        sdp.to_string()
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

    fn echo_rejected_formats(answer: &str, offer: &str) -> String {
        finish_rejected_sections(answer, &offered_formats(offer))
    }

    #[test]
    fn rejected_video_echoes_the_offered_format() {
        let fixed = echo_rejected_formats(ANSWER, OFFER);
        assert!(
            fixed.contains(
                "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n\
                 a=end-of-candidates\r\n"
            ),
            "{fixed}"
        );
        assert!(!fixed.contains("rtx"), "only the first format: {fixed}");
        assert!(fixed.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    }

    #[test]
    fn sections_with_formats_only_get_end_of_candidates() {
        let stopped = ANSWER.replace(
            "m=video 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=inactive\r\n",
            "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\na=rtpmap:96 VP8/90000\r\n",
        );
        let finished = format!("{stopped}a=end-of-candidates\r\n");
        assert_eq!(echo_rejected_formats(&stopped, OFFER), finished);
        assert_eq!(echo_rejected_formats(&finished, OFFER), finished, "once");
        assert_eq!(
            echo_rejected_formats(OFFER, OFFER),
            OFFER,
            "live sections untouched"
        );
    }

    #[test]
    fn mismatched_sections_keep_their_formats() {
        let other = OFFER.replace("a=mid:1", "a=mid:7");
        let finished = format!("{ANSWER}a=end-of-candidates\r\n");
        assert_eq!(echo_rejected_formats(ANSWER, &other), finished);
        assert_eq!(echo_rejected_formats(ANSWER, ""), finished);
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
