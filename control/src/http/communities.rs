//! Handlers of roles, members, invitations, leaving and "my channels".

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::{ErrorSchema, schemas};
use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::{
    Channel, CommunitiesError, Control, Invitation, InvitationPreview, Member, NewInvitation, Role,
    RolePermissions,
};

impl From<CommunitiesError> for ApiError {
    fn from(e: CommunitiesError) -> ApiError {
        let code = e.code();
        let status = match &e {
            CommunitiesError::Invalid(fields) => {
                return ApiError::invalid_request("invalid input")
                    .with_details(serde_json::json!({ "fields": fields }));
            }
            CommunitiesError::Storage(cause) => return ApiError::internal(cause),
            CommunitiesError::ServerNotFound
            | CommunitiesError::MemberNotFound
            | CommunitiesError::InvitationNotFound => StatusCode::NOT_FOUND,
            CommunitiesError::Forbidden | CommunitiesError::Banned => StatusCode::FORBIDDEN,
            CommunitiesError::InvitationExpired
            | CommunitiesError::InvitationExhausted
            | CommunitiesError::InvitationRevoked => StatusCode::GONE,
            CommunitiesError::AlreadyAMember | CommunitiesError::OwnerCannotLeave => {
                StatusCode::CONFLICT
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// Body of `POST /v1/servers/{server_id}/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateInvitationBody {
    /// Lifetime in seconds, 60 to 2592000 (30 days); default 7 days.
    #[serde(default, deserialize_with = "crate::json_number::optional_integer")]
    #[schema(minimum = 60, maximum = 2592000)]
    expires_in_secs: Option<u64>,
    /// How many joins it allows, 1-1000; absent is unlimited.
    #[serde(default, deserialize_with = "crate::json_number::optional_integer")]
    #[schema(minimum = 1, maximum = 1000)]
    max_uses: Option<u32>,
}

/// Body of `PUT /v1/servers/{server_id}/members/{user_id}/role`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRoleBody {
    /// `member` or `moderator`.
    #[schema(schema_with = schemas::assignable_role)]
    role: Role,
}

/// `{"roles": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleList {
    roles: Vec<RolePermissions>,
}

/// `{"members": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MemberList {
    members: Vec<Member>,
}

/// `{"invitations": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvitationList {
    invitations: Vec<Invitation>,
}

/// `{"channels": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MyChannels {
    channels: Vec<Channel>,
}

/// Roles of a server and what each may do.
#[utoipa::path(get, path = "/v1/servers/{server_id}/roles", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    responses((status = 200, body = RoleList),
        (status = 404, description = "server_not_found: unknown, or not a member", body = ErrorSchema)))]
pub(crate) async fn list_roles(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
) -> Result<Json<RoleList>, ApiError> {
    let roles = control.roles_of(&caller.user_id, &server_id).await?;
    Ok(Json(RoleList { roles }))
}

/// Members of a server (members only).
#[utoipa::path(get, path = "/v1/servers/{server_id}/members", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    responses((status = 200, body = MemberList),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn list_members(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
) -> Result<Json<MemberList>, ApiError> {
    let members = control.members_of(&caller.user_id, &server_id).await?;
    Ok(Json(MemberList { members }))
}

/// Removes a member (`manage_members`; never the owner; moderators remove members only).
#[utoipa::path(delete, path = "/v1/servers/{server_id}/members/{user_id}", tag = "communities",
    params(("server_id" = String, Path, description = "server id"),
        ("user_id" = String, Path, description = "member to remove")),
    responses((status = 204, description = "removed"),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found, member_not_found", body = ErrorSchema)))]
pub(crate) async fn remove_member(
    State(control): State<Control>,
    caller: Caller,
    ApiPath((server_id, user_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    control
        .remove_member(&caller.user_id, &server_id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a member's role (`manage_roles`: the owner).
#[utoipa::path(put, path = "/v1/servers/{server_id}/members/{user_id}/role", tag = "communities",
    params(("server_id" = String, Path, description = "server id"),
        ("user_id" = String, Path, description = "member")),
    request_body = SetRoleBody,
    responses((status = 200, body = Member),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found, member_not_found", body = ErrorSchema)))]
pub(crate) async fn set_role(
    State(control): State<Control>,
    caller: Caller,
    ApiPath((server_id, user_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SetRoleBody>,
) -> Result<Json<Member>, ApiError> {
    let member = control
        .set_member_role(&caller.user_id, &server_id, &user_id, body.role)
        .await?;
    Ok(Json(member))
}

/// Leaves a server (the owner cannot).
#[utoipa::path(post, path = "/v1/servers/{server_id}/leave", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    responses((status = 204, description = "left"),
        (status = 404, description = "server_not_found", body = ErrorSchema),
        (status = 409, description = "owner_cannot_leave", body = ErrorSchema)))]
pub(crate) async fn leave(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    control.leave_server(&caller.user_id, &server_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an invitation (`create_invitations`).
#[utoipa::path(post, path = "/v1/servers/{server_id}/invitations", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    request_body = CreateInvitationBody,
    responses((status = 201, body = Invitation),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn create_invitation(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateInvitationBody>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let new = NewInvitation {
        expires_in_secs: body.expires_in_secs,
        max_uses: body.max_uses,
    };
    let invitation = control
        .create_invitation(&caller.user_id, &server_id, new)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Invitations of a server: all with `manage_invitations`, otherwise the caller's own.
#[utoipa::path(get, path = "/v1/servers/{server_id}/invitations", tag = "communities",
    params(("server_id" = String, Path, description = "server id")),
    responses((status = 200, body = InvitationList),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn list_invitations(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(server_id): ApiPath<String>,
) -> Result<Json<InvitationList>, ApiError> {
    let invitations = control.invitations_of(&caller.user_id, &server_id).await?;
    Ok(Json(InvitationList { invitations }))
}

/// Revokes an invitation (its creator, or `manage_invitations`).
#[utoipa::path(delete, path = "/v1/servers/{server_id}/invitations/{token}", tag = "communities",
    params(("server_id" = String, Path, description = "server id"),
        ("token" = String, Path, description = "invitation token")),
    responses((status = 200, description = "the revoked invitation", body = Invitation),
        (status = 404, description = "server_not_found, invitation_not_found", body = ErrorSchema)))]
pub(crate) async fn revoke_invitation(
    State(control): State<Control>,
    caller: Caller,
    ApiPath((server_id, token)): ApiPath<(String, String)>,
) -> Result<Json<Invitation>, ApiError> {
    let invitation = control
        .revoke_invitation(&caller.user_id, &server_id, &token)
        .await?;
    Ok(Json(invitation))
}

/// What an invitation leads to (the server's name and size), before accepting it.
#[utoipa::path(get, path = "/v1/invitations/{token}", tag = "communities",
    params(("token" = String, Path, description = "invitation token")),
    responses((status = 200, body = InvitationPreview),
        (status = 404, description = "invitation_not_found", body = ErrorSchema),
        (status = 410, description = "invitation_expired, invitation_exhausted, invitation_revoked", body = ErrorSchema)))]
pub(crate) async fn preview_invitation(
    State(control): State<Control>,
    _caller: Caller,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<InvitationPreview>, ApiError> {
    Ok(Json(control.preview_invitation(&token).await?))
}

/// Joins the invitation's server.
#[utoipa::path(post, path = "/v1/invitations/{token}/accept", tag = "communities",
    params(("token" = String, Path, description = "invitation token")),
    responses((status = 201, description = "the new membership", body = Member),
        (status = 403, description = "banned", body = ErrorSchema),
        (status = 404, description = "invitation_not_found", body = ErrorSchema),
        (status = 409, description = "already_a_member", body = ErrorSchema),
        (status = 410, description = "invitation_expired, invitation_exhausted, invitation_revoked", body = ErrorSchema)))]
pub(crate) async fn accept_invitation(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(token): ApiPath<String>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let member = control.accept_invitation(&caller.user_id, &token).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// Every channel of every server the caller is a member of.
#[utoipa::path(get, path = "/v1/channels", tag = "communities",
    responses((status = 200, body = MyChannels)))]
pub(crate) async fn my_channels(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<MyChannels>, ApiError> {
    let channels = control.my_channels(&caller.user_id).await?;
    Ok(Json(MyChannels { channels }))
}
