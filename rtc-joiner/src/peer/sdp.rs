//! Just enough SDP reading to map m-lines to mids, directions, msids and payload types.

/// One `m=` section of an SDP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaSection {
    /// `audio`, `video`, `application`.
    pub kind: String,
    /// `a=mid`.
    pub mid: Option<String>,
    /// `sendrecv`, `sendonly`, `recvonly` or `inactive` (default `sendrecv`).
    pub direction: String,
    /// `a=msid:<stream id> <track id>`.
    pub msid: Option<(String, String)>,
    /// Whether the port is 0 (rejected / stopped m-line).
    pub rejected: bool,
    /// `a=rtpmap:<pt> <name>/...`: payload types and codec names, in order.
    pub codecs: Vec<(u8, String)>,
    /// `a=extmap:<id> <uri>`: header extension ids.
    pub extmaps: Vec<(u8, String)>,
}

impl MediaSection {
    /// The first payload type of codec `name` (case-insensitive, `H264`).
    pub fn payload_type_of(&self, name: &str) -> Option<u8> {
        self.codecs
            .iter()
            .find(|(_, codec)| codec.eq_ignore_ascii_case(name))
            .map(|(pt, _)| *pt)
    }

    /// The id of header extension `uri`, if negotiated.
    pub fn extension_id(&self, uri: &str) -> Option<u8> {
        self.extmaps
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(id, _)| *id)
    }
}

/// Splits an SDP into its media sections.
pub fn media_sections(sdp: &str) -> Vec<MediaSection> {
    let mut sections: Vec<MediaSection> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut fields = rest.split_whitespace();
            sections.push(MediaSection {
                kind: fields.next().unwrap_or_default().to_owned(),
                rejected: fields.next() == Some("0"),
                direction: "sendrecv".to_owned(),
                ..MediaSection::default()
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            section.mid = Some(mid.to_owned());
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            let mut parts = msid.split_whitespace();
            if let Some(stream) = parts.next() {
                let track = parts.next().unwrap_or_default();
                section.msid = Some((stream.to_owned(), track.to_owned()));
            }
        } else if let Some(rtpmap) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rtpmap.split_whitespace();
            let pt = parts.next().and_then(|pt| pt.parse().ok());
            let name = parts.next().and_then(|n| n.split('/').next());
            if let (Some(pt), Some(name)) = (pt, name) {
                section.codecs.push((pt, name.to_owned()));
            }
        } else if let Some(extmap) = line.strip_prefix("a=extmap:") {
            let mut parts = extmap.split_whitespace();
            // `<id>[/<direction>] <uri>`
            let id = parts
                .next()
                .and_then(|id| id.split('/').next())
                .and_then(|id| id.parse().ok());
            if let (Some(id), Some(uri)) = (id, parts.next()) {
                section.extmaps.push((id, uri.to_owned()));
            }
        } else if let Some(dir) = line
            .strip_prefix("a=")
            .filter(|a| matches!(*a, "sendrecv" | "sendonly" | "recvonly" | "inactive"))
        {
            section.direction = dir.to_owned();
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=msid:joiner mic\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendonly\r\na=msid:p_alice t_1\r\n\
a=rtpmap:111 opus/48000/2\r\na=extmap:4/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n";

    #[test]
    fn reads_mids_directions_and_msids() {
        let sections = media_sections(SDP);
        assert_eq!(sections.len(), 3);
        assert_eq!(sections[0].mid.as_deref(), Some("0"));
        assert_eq!(sections[0].direction, "sendrecv");
        assert_eq!(
            sections[1].msid,
            Some(("p_alice".to_owned(), "t_1".to_owned()))
        );
        assert_eq!(sections[1].direction, "sendonly");
        assert_eq!(sections[1].payload_type_of("OPUS"), Some(111));
        assert_eq!(sections[1].payload_type_of("H264"), None);
        assert_eq!(
            sections[1].extension_id("urn:ietf:params:rtp-hdrext:sdes:mid"),
            Some(4)
        );
        assert!(sections[2].rejected);
        assert_eq!(sections[2].kind, "video");
    }
}
