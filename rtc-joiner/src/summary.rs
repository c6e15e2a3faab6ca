//! The end-of-run report, printed as text or JSON.

use crate::peer::SenderReport;
use crate::receiver::ReceiverReport;
use serde::Serialize;
use std::fmt;

/// Everything a joiner reports when it stops.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Channel joined.
    pub channel_id: String,
    /// Server the channel belongs to.
    pub server_id: String,
    /// Our participant id (empty if the join failed).
    pub participant_id: String,
    /// Our user id.
    pub user_id: String,
    /// Seconds from start to stop.
    pub duration_secs: f64,
    /// Why the joiner stopped (`duration`, `interrupted`, `file_ended`,
    /// `server_going_away`: the server stopped or drained).
    pub stop_reason: String,
    /// Whether the peer connection ever reached `connected`.
    pub media_connected: bool,
    /// The publishing side, if this joiner published.
    pub sent: Option<SenderReport>,
    /// One entry per remote track received.
    pub received: Vec<ReceiverReport>,
    /// Non-fatal `error` frames the server sent, as `code: message`.
    pub server_errors: Vec<String>,
}

impl Summary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "joined {}/{} as {} ({}) for {:.1}s, stopped: {}",
            self.server_id,
            self.channel_id,
            self.participant_id,
            self.user_id,
            self.duration_secs,
            self.stop_reason
        )?;
        if !self.media_connected {
            writeln!(f, "media: never connected")?;
        }
        match &self.sent {
            Some(sent) => {
                write!(
                    f,
                    "sent: {} packets ({} bytes, {:.1}s of audio, {} errors)",
                    sent.packets_sent,
                    sent.payload_bytes_sent,
                    sent.audio_seconds,
                    sent.send_errors
                )?;
                match sent.transport_packets_sent {
                    Some(on_wire) => writeln!(f, ", {on_wire} on the wire")?,
                    None => writeln!(f)?,
                }
            }
            None => writeln!(f, "sent: nothing (listen only)")?,
        }
        if self.received.is_empty() {
            writeln!(f, "received: no remote audio")?;
        }
        for r in &self.received {
            let who = r.info.user_id.as_deref().unwrap_or(&r.info.participant_id);
            let who = if who.is_empty() {
                r.info.track_id.as_str()
            } else {
                who
            };
            write!(
                f,
                "received from {who}: {} packets, {} lost ({:.2}%), jitter {:.2} ms",
                r.packets_received, r.packets_lost, r.loss_percent, r.jitter_ms
            )?;
            if let Some(path) = &r.wav_path {
                write!(f, ", wav {}", path.display())?;
            }
            writeln!(f)?;
        }
        for err in &self.server_errors {
            writeln!(f, "server error: {err}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::RemoteTrackInfo;

    #[test]
    fn text_and_json_forms() {
        let summary = Summary {
            channel_id: "vc_general".into(),
            server_id: "srv_harbor".into(),
            participant_id: "p_1".into(),
            user_id: "bob".into(),
            duration_secs: 3.0,
            stop_reason: "duration".into(),
            media_connected: true,
            sent: Some(SenderReport {
                packets_sent: 150,
                ..SenderReport::default()
            }),
            received: vec![ReceiverReport {
                info: RemoteTrackInfo {
                    participant_id: "p_2".into(),
                    user_id: Some("alice".into()),
                    mid: Some("1".into()),
                    track_id: "t".into(),
                },
                packets_received: 148,
                packets_lost: 2,
                loss_percent: 1.333,
                jitter_ms: 0.5,
                ..ReceiverReport::default()
            }],
            server_errors: vec![],
        };
        let text = summary.to_string();
        assert!(text.contains("sent: 150 packets"));
        assert!(text.contains("received from alice: 148 packets, 2 lost (1.33%)"));
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).expect("json");
        assert_eq!(json["sent"]["packets_sent"], 150);
        assert_eq!(json["received"][0]["user_id"], "alice");
        assert_eq!(json["received"][0]["packets_lost"], 2);
    }
}
