//! `GET /v1/client/capabilities`: what this server supports, for clients to adapt.

use axum::Json;
use axum::extract::State;
use control::ChannelKind;
use control::http::edge::{
    Capabilities, CapabilityLimits, E2eeCapabilities, ModerationCapabilities, RtcCapabilities,
};

use crate::state::AppState;
use crate::ws::protocol::{PROTOCOL_VERSION, max_frame_bytes};

/// What this server supports (protocol version, codecs, limits).
#[utoipa::path(get, path = "/v1/client/capabilities", tag = "ops", security(()),
    responses((status = 200, description = "capabilities", body = Capabilities)))]
pub async fn capabilities(State(state): State<AppState>) -> Json<Capabilities> {
    Json(Capabilities {
        server_version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: PROTOCOL_VERSION,
        rtc: RtcCapabilities {
            enabled: true,
            audio_codecs: vec!["opus".into()],
            video_codecs: state
                .config
                .media
                .video_codecs
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect(),
            room_kinds: vec![ChannelKind::Voice, ChannelKind::Video],
            sources: ["microphone", "camera", "screenshare", "screenshare_audio"]
                .map(String::from)
                .to_vec(),
            ice_lite: true,
            max_participants_per_room: state.config.rtc.max_participants_per_room,
        },
        e2ee: E2eeCapabilities {
            envelopes: true,
            epochs: true,
            key_packages: true,
            key_backups: true,
            realtime: true,
        },
        moderation: ModerationCapabilities {
            enabled: true,
            actions: control::ActionKind::ALL.to_vec(),
            votes: true,
            report_bundles: true,
        },
        limits: CapabilityLimits {
            ticket_ttl_secs: state.config.rtc.ticket_ttl_secs,
            max_ws_frame_bytes: max_frame_bytes(state.config.rtc.max_participants_per_room),
            max_body_bytes: state.config.http.max_body_bytes,
        },
        development_mode: state.config.mode == crate::config::Mode::Development,
    })
}
