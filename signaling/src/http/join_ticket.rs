//! `POST /v1/rtc/channels/{channel_id}/join-ticket`: asks control whether the caller may join and
//! what they may publish, and answers a signed single-use ticket.

use axum::Json;
use axum::extract::State;
use control::http::edge::{JoinTicket, JoinTicketRequest};
use control::http::{ApiBody, ApiPath, json_object};
use control::{ApiError, Caller};

use openchat_protocol::{ChannelId, ServerId};

use crate::state::AppState;
use crate::tickets::TicketRoom;

fn grants(g: control::Grants) -> openchat_protocol::Grants {
    openchat_protocol::Grants {
        microphone: g.microphone,
        camera: g.camera,
        screenshare: g.screenshare,
        screenshare_audio: g.screenshare_audio,
    }
}

/// Issues a join ticket.
pub async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> Result<Json<JoinTicket>, ApiError> {
    // The body is optional; when present it is a JSON object.
    let request: JoinTicketRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JoinTicketRequest::default()
    } else {
        json_object(&body)?
    };
    if !ChannelId::ALPHABET.accepts(&channel_id) {
        state.metrics.join_refused("channel_not_found");
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "channel_not_found",
            "no such channel",
        ));
    }
    let admission = state
        .control
        .admit_to_channel(&caller.user_id, &channel_id, request.server_id.as_deref())
        .await
        .inspect_err(|e| state.metrics.join_refused(e.code()))?;
    let room = TicketRoom {
        channel_id: ChannelId::parse(admission.channel_id.as_str()).map_err(ApiError::internal)?,
        server_id: ServerId::parse(admission.server_id.as_str()).map_err(ApiError::internal)?,
        kind: admission.kind.as_str(),
        grants: grants(admission.grants),
    };
    let (ticket, claims) = state
        .tickets
        .mint(&caller, room)
        .map_err(ApiError::internal)?;
    state.metrics.ticket_issued();
    Ok(Json(JoinTicket {
        ticket,
        expires_at: claims.exp,
        signaling_url: "/v1/rtc/signaling".into(),
        channel_id: admission.channel_id,
        server_id: admission.server_id,
        room_kind: admission.kind,
        grants: admission.grants,
    }))
}
