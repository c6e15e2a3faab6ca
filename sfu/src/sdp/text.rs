//! SDP as text, split into its session part and its m= sections: just enough structure for the
//! policy filter and the answer fix-ups, and never a panic on malformed input (str0m reports
//! what it cannot parse).

/// One `m=` section: its lines, the `m=` line first, without line endings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The lines of the section.
    pub lines: Vec<String>,
}

/// An SDP split into its session lines and its sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdpText {
    /// Lines before the first `m=` line.
    pub session: Vec<String>,
    /// The m= sections, in order.
    pub sections: Vec<Section>,
}

impl SdpText {
    /// Splits `sdp` into lines (CRLF or LF), dropping empty ones.
    pub fn parse(sdp: &str) -> SdpText {
        let mut text = SdpText::default();
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            if line.starts_with("m=") {
                text.sections.push(Section {
                    lines: vec![line.to_string()],
                });
            } else if let Some(s) = text.sections.last_mut() {
                s.lines.push(line.to_string());
            } else {
                text.session.push(line.to_string());
            }
        }
        text
    }

    /// The SDP text again, every line ended by CRLF.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in self
            .session
            .iter()
            .chain(self.sections.iter().flat_map(|s| s.lines.iter()))
        {
            out.push_str(l);
            out.push_str("\r\n");
        }
        out
    }
}

impl Section {
    /// The media type of the `m=` line (`audio`, `video`, `application`, ...).
    pub fn media_type(&self) -> Option<&str> {
        self.lines.first()?.strip_prefix("m=")?.split(' ').next()
    }

    /// The value of the first `a=<name>` attribute (`name` includes the `:` if any).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix("a=")?.strip_prefix(name))
    }

    /// The section's `a=mid`.
    pub fn mid(&self) -> Option<String> {
        self.attr("mid:").map(|m| m.trim().to_string())
    }

    /// Whether the `m=` line's port is 0 (rejected or stopped).
    pub fn port_is_zero(&self) -> bool {
        self.lines
            .first()
            .and_then(|l| l.split(' ').nth(1))
            .is_some_and(|p| p == "0")
    }

    /// The payload types (formats) of the `m=` line.
    pub fn formats(&self) -> Vec<&str> {
        self.lines
            .first()
            .map(|l| l.split(' ').skip(3).filter(|f| !f.is_empty()).collect())
            .unwrap_or_default()
    }

    /// The `a=rtpmap` line of payload type `pt`, whole.
    pub fn rtpmap_line(&self, pt: &str) -> Option<&str> {
        self.lines.iter().map(String::as_str).find(|l| {
            l.strip_prefix("a=rtpmap:")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(p, _)| p == pt)
        })
    }

    /// Whether any `a=rtpmap` line is present.
    pub fn has_rtpmap(&self) -> bool {
        self.lines.iter().any(|l| l.starts_with("a=rtpmap:"))
    }

    /// Sets the `m=` line's port to 0.
    pub fn set_port_zero(&mut self) {
        if let Some(first) = self.lines.first_mut() {
            let mut parts: Vec<&str> = first.split(' ').collect();
            if parts.len() > 1 {
                parts[1] = "0";
            }
            *first = parts.join(" ");
        }
    }

    /// Replaces the `m=` line's formats with `formats`.
    pub fn set_formats(&mut self, formats: &[&str]) {
        if let Some(first) = self.lines.first_mut() {
            let head: Vec<&str> = first.split(' ').take(3).collect();
            if head.len() == 3 {
                *first = format!("{} {}", head.join(" "), formats.join(" "));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_renders_again() {
        let sdp = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\n\
                   a=rtpmap:111 opus/48000/2\r\n\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\na=mid:1\n";
        let text = SdpText::parse(sdp);
        assert_eq!(text.session, ["v=0", "s=-"]);
        assert_eq!(text.sections.len(), 2);
        let audio = &text.sections[0];
        assert_eq!(audio.media_type(), Some("audio"));
        assert_eq!(audio.mid().as_deref(), Some("0"));
        assert_eq!(audio.formats(), ["111", "0"]);
        assert_eq!(audio.rtpmap_line("111"), Some("a=rtpmap:111 opus/48000/2"));
        assert_eq!(audio.rtpmap_line("0"), None);
        assert!(!audio.port_is_zero());
        assert!(text.sections[1].port_is_zero());
        assert!(!text.sections[1].has_rtpmap());
        assert!(
            text.render()
                .ends_with("m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n")
        );
    }

    #[test]
    fn rewrites_the_m_line() {
        let mut s = Section {
            lines: vec!["m=video 9 UDP/TLS/RTP/SAVPF 96 97".into()],
        };
        s.set_port_zero();
        s.set_formats(&["96"]);
        assert_eq!(s.lines[0], "m=video 0 UDP/TLS/RTP/SAVPF 96");
    }

    #[test]
    fn garbage_does_not_panic() {
        for junk in [
            "",
            "m=",
            "m=audio",
            "\u{0}",
            "a=x\r\nm=video x",
            "m=a b c d e f",
        ] {
            let mut t = SdpText::parse(junk);
            for s in &mut t.sections {
                let _ = (s.mid(), s.formats(), s.port_is_zero(), s.media_type());
                s.set_port_zero();
                s.set_formats(&["1"]);
            }
            let _ = t.render();
        }
    }
}
