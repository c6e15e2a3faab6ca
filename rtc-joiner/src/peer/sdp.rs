//! Just enough SDP reading to map m-lines to mids, directions and msids.

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
        assert!(sections[2].rejected);
        assert_eq!(sections[2].kind, "video");
    }
}
