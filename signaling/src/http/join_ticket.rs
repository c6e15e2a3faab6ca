//! `POST /v1/rtc/channels/{channel_id}/join-ticket`: asks control whether the caller may join and
//! what they may publish, and answers a signed single-use ticket.

use axum::Json;
use axum::extract::State;
use control::http::edge::{JoinTicket, JoinTicketRequest};
use control::http::openapi::ErrorSchema;
use control::http::{ApiBody, ApiPath, json_object};
use control::{ApiError, Caller};

use openchat_protocol::{ChannelId, ServerId};

use utoipa::openapi::{RefOr, Required};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use crate::tickets::TicketRoom;

/// [`issue`] with its OpenAPI entry, whose body is marked optional: it may be absent (no body,
/// or only whitespace); when present it is an object (`null`, `[]` are refused). utoipa marks a
/// body required unless its type is an `Option`, which would also admit `null`.
pub fn route() -> UtoipaMethodRouter<AppState> {
    let (schemas, mut paths, router) = routes!(issue);
    for item in paths.paths.values_mut() {
        let body = item.post.as_mut().and_then(|op| op.request_body.as_mut());
        if let Some(RefOr::T(body)) = body {
            body.required = Some(Required::False);
        }
    }
    (schemas, paths, router)
}

fn grants(g: control::Grants) -> openchat_protocol::Grants {
    openchat_protocol::Grants {
        microphone: g.microphone,
        camera: g.camera,
        screenshare: g.screenshare,
        screenshare_audio: g.screenshare_audio,
    }
}

/// A single-use join ticket for a voice or video channel. The body is optional.
#[utoipa::path(post, path = "/v1/rtc/channels/{channel_id}/join-ticket", tag = "rtc", operation_id = "join_ticket",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body(content = JoinTicketRequest, content_type = "application/json"),
    responses((status = 200, description = "the ticket, its expiry, grants and signaling URL", body = JoinTicket),
        (status = 403, description = "banned: banned or timed out in the channel's server", body = ErrorSchema),
        (status = 404, description = "channel_not_found: unknown, or not visible to the caller", body = ErrorSchema),
        (status = 409, description = "not_an_rtc_channel", body = ErrorSchema)))]
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
