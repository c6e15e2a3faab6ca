//! Handlers of `/v1/servers`, its channels and members.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::{ErrorSchema, schemas};
use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::communities::JoinedServer;
use crate::{Channel, ChannelKind, Control, Member, NewChannel, NewServer, Role, Server};

/// Body of `POST /v1/servers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateServerBody {
    /// Display name: at most 100 characters, not blank, no control characters (trimmed).
    #[schema(
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// Chosen id (default: generated).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: Option<String>,
}

/// Body of `POST /v1/servers/{server_id}/channels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateChannelBody {
    /// Display name: at most 100 characters, not blank, no control characters (trimmed).
    #[schema(
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// What it carries.
    kind: ChannelKind,
    /// Chosen id, unique across servers (default: generated).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: Option<String>,
}

/// Body of `POST /v1/servers/{server_id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddMemberBody {
    /// The user to add.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    user_id: String,
    /// `member` (default) or `moderator` (the owner only).
    #[serde(default)]
    #[schema(schema_with = schemas::assignable_role_or_null)]
    role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServerList {
    servers: Vec<JoinedServer>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelList {
    channels: Vec<Channel>,
}

/// `POST /v1/servers`: 201 with the server; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/servers", tag = "communities", request_body = CreateServerBody,
    responses((status = 201, body = Server),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 409, description = "id_taken", body = ErrorSchema)))]
pub(crate) async fn create_server(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateServerBody>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    let new = NewServer {
        id: body.id,
        name: body.name,
    };
    let server = control.create_server(&caller.user_id, new).await?;
    Ok((StatusCode::CREATED, Json(server)))
}

/// `GET /v1/servers`: the servers the caller is a member of, with their role.
#[utoipa::path(get, path = "/v1/servers", tag = "communities",
    responses((status = 200, body = ServerList)))]
pub(crate) async fn list_servers(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<ServerList>, ApiError> {
    let servers = control.servers_of(&caller.user_id).await?;
    Ok(Json(ServerList { servers }))
}

/// `POST /v1/servers/{server_id}/channels`: 201 with the channel; owner or moderator only.
#[utoipa::path(post, path = "/v1/servers/{server_id}/channels", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    request_body = CreateChannelBody,
    responses((status = 201, body = Channel),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found", body = ErrorSchema),
        (status = 409, description = "id_taken", body = ErrorSchema)))]
pub(crate) async fn create_channel(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateChannelBody>,
) -> Result<(StatusCode, Json<Channel>), ApiError> {
    let new = NewChannel {
        id: body.id,
        name: body.name,
        kind: body.kind,
    };
    let channel = control
        .create_channel(&caller.user_id, &server_id, new)
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// `GET /v1/servers/{server_id}/channels`: the server's channels; members only.
#[utoipa::path(get, path = "/v1/servers/{server_id}/channels", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    responses((status = 200, body = ChannelList),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn list_channels(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
) -> Result<Json<ChannelList>, ApiError> {
    let channels = control.channels_of(&caller.user_id, &server_id).await?;
    Ok(Json(ChannelList { channels }))
}

/// `POST /v1/servers/{server_id}/members`: 201 with the member; owner or moderator only.
#[utoipa::path(post, path = "/v1/servers/{server_id}/members", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    request_body = AddMemberBody,
    responses((status = 201, body = Member),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found", body = ErrorSchema),
        (status = 409, description = "already_a_member", body = ErrorSchema)))]
pub(crate) async fn add_member(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let member = control
        .add_member(&caller.user_id, &server_id, &body.user_id, body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}
