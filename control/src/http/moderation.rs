//! Moderation routes (`/v1/moderation/...`). The server travels in the query of `GET`s
//! (`server_id`) and in the body of `POST /v1/moderation/cases` and `PUT .../policy`; routes on
//! one case take it from the case.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorSchema;
use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::{
    ActionRecord, ActionSpec, AuditPage, Case, CasePage, CaseQuery, CaseState, Control,
    ModerationError, ModerationPolicy, NewCase, ProposalRecord, VoteOutcome,
};

impl From<ModerationError> for ApiError {
    fn from(e: ModerationError) -> ApiError {
        let code = e.code();
        let status = match &e {
            ModerationError::Invalid(fields) => {
                return ApiError::invalid_request("invalid input")
                    .with_details(serde_json::json!({ "fields": fields }));
            }
            ModerationError::Storage(cause) => return ApiError::internal(cause),
            ModerationError::ServerNotFound
            | ModerationError::CaseNotFound
            | ModerationError::ProposalNotFound
            | ModerationError::MessageNotFound(_) => StatusCode::NOT_FOUND,
            ModerationError::Forbidden
            | ModerationError::VoteRequired
            | ModerationError::NotVotable
            | ModerationError::DisclosureNotAllowed
            | ModerationError::NotMemberAtEpoch(_) => StatusCode::FORBIDDEN,
            ModerationError::InvalidTarget(_)
            | ModerationError::ProposalClosed(_)
            | ModerationError::NothingToLift(_) => StatusCode::CONFLICT,
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The moderation routes, each with its OpenAPI entry.
pub(crate) fn routes() -> OpenApiRouter<Control> {
    OpenApiRouter::new()
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(open_case, list_cases))
        .routes(routes!(get_case))
        .routes(routes!(take_action))
        .routes(routes!(propose))
        .routes(routes!(vote))
        .routes(routes!(audit))
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::invalid_request("invalid query")
        .with_details(serde_json::json!({ "reason": e.body_text() }))
}

/// `?server_id=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerQuery {
    /// The server.
    server_id: String,
}

/// Body of `PUT /v1/moderation/policy`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    /// The server.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    server_id: String,
    /// The whole new policy.
    policy: ModerationPolicy,
}

/// `{"server_id": ..., "policy": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PolicyAnswer {
    server_id: String,
    policy: ModerationPolicy,
}

/// A server's moderation policy (any member).
#[utoipa::path(get, path = "/v1/moderation/policy", tag = "moderation", params(ServerQuery),
    responses((status = 200, body = PolicyAnswer),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn get_policy(
    State(control): State<Control>,
    caller: Caller,
    query: Result<Query<ServerQuery>, QueryRejection>,
) -> Result<Json<PolicyAnswer>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let policy = control
        .moderation_policy(&caller.user_id, &query.server_id)
        .await?;
    Ok(Json(PolicyAnswer {
        server_id: query.server_id,
        policy,
    }))
}

/// Replaces a server's moderation policy (its owner).
#[utoipa::path(put, path = "/v1/moderation/policy", tag = "moderation", request_body = PolicyBody,
    responses((status = 200, body = PolicyAnswer),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn put_policy(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyAnswer>, ApiError> {
    let policy = control
        .set_moderation_policy(&caller.user_id, &body.server_id, body.policy)
        .await?;
    Ok(Json(PolicyAnswer {
        server_id: body.server_id,
        policy,
    }))
}

/// Opens a case (any member), with an optional report bundle.
#[utoipa::path(post, path = "/v1/moderation/cases", tag = "moderation", request_body = NewCase,
    responses((status = 201, body = Case),
        (status = 403, description = "disclosure_not_allowed, not_member_at_epoch", body = ErrorSchema),
        (status = 404, description = "server_not_found, message_not_found", body = ErrorSchema),
        (status = 409, description = "invalid_target", body = ErrorSchema)))]
pub(crate) async fn open_case(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<NewCase>,
) -> Result<(StatusCode, Json<Case>), ApiError> {
    let case = control.open_case(&caller.user_id, body).await?;
    Ok((StatusCode::CREATED, Json(case)))
}

/// `GET /v1/moderation/cases` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CasesParams {
    /// The server.
    server_id: String,
    /// `open` or `actioned`.
    state: Option<CaseState>,
    /// Only cases about this user.
    target_user_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}\\.[A-Za-z0-9_-]{1,64}$")]
    cursor: Option<String>,
    /// 1-100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Cases of a server, newest first (moderators: all; members: those they opened).
#[utoipa::path(get, path = "/v1/moderation/cases", tag = "moderation", params(CasesParams),
    responses((status = 200, body = CasePage),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn list_cases(
    State(control): State<Control>,
    caller: Caller,
    query: Result<Query<CasesParams>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(p) = query.map_err(query_error)?;
    let page = control
        .cases(
            &caller.user_id,
            CaseQuery {
                server_id: p.server_id,
                state: p.state,
                target_user_id: p.target_user_id,
                cursor: p.cursor,
                limit: p.limit,
            },
        )
        .await?;
    Ok(Json(page))
}

/// One case with its actions and proposals.
#[utoipa::path(get, path = "/v1/moderation/cases/{case_id}", tag = "moderation",
    params(("case_id" = String, Path, description = "case id")),
    responses((status = 200, body = Case),
        (status = 404, description = "case_not_found", body = ErrorSchema)))]
pub(crate) async fn get_case(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(case_id): ApiPath<String>,
) -> Result<Json<Case>, ApiError> {
    Ok(Json(control.case(&caller.user_id, &case_id).await?))
}

/// Body of the action routes: `{"action": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionBody {
    #[schema(schema_with = super::openapi::schemas::action_spec)]
    action: ActionSpec,
}

/// Takes an action at once, as the policy allows the caller's role.
#[utoipa::path(post, path = "/v1/moderation/cases/{case_id}/actions/immediate", tag = "moderation",
    params(("case_id" = String, Path, description = "case id")), request_body = ActionBody,
    responses((status = 201, body = ActionRecord),
        (status = 403, description = "forbidden, vote_required", body = ErrorSchema),
        (status = 404, description = "case_not_found, message_not_found", body = ErrorSchema),
        (status = 409, description = "nothing_to_lift, invalid_target", body = ErrorSchema)))]
pub(crate) async fn take_action(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(case_id): ApiPath<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<(StatusCode, Json<ActionRecord>), ApiError> {
    let record = control
        .take_action(&caller.user_id, &case_id, body.action.into())
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Puts an action to a vote (the policy's voters, votable actions).
#[utoipa::path(post, path = "/v1/moderation/cases/{case_id}/actions/propose", tag = "moderation",
    params(("case_id" = String, Path, description = "case id")), request_body = ActionBody,
    responses((status = 201, body = ProposalRecord),
        (status = 403, description = "forbidden, not_votable", body = ErrorSchema),
        (status = 404, description = "case_not_found", body = ErrorSchema),
        (status = 409, description = "invalid_target", body = ErrorSchema)))]
pub(crate) async fn propose(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(case_id): ApiPath<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<(StatusCode, Json<ProposalRecord>), ApiError> {
    let proposal = control
        .propose_action(&caller.user_id, &case_id, body.action.into())
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

/// Body of `POST /v1/moderation/cases/{case_id}/votes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteBody {
    proposal_id: String,
    /// For (`true`) or against.
    approve: bool,
}

/// Votes on a proposal (a second vote replaces the first); the deciding vote carries the
/// action out.
#[utoipa::path(post, path = "/v1/moderation/cases/{case_id}/votes", tag = "moderation",
    params(("case_id" = String, Path, description = "case id")), request_body = VoteBody,
    responses((status = 200, body = VoteOutcome),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "case_not_found, proposal_not_found", body = ErrorSchema),
        (status = 409, description = "proposal_closed, invalid_target", body = ErrorSchema)))]
pub(crate) async fn vote(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(case_id): ApiPath<String>,
    ApiJson(body): ApiJson<VoteBody>,
) -> Result<Json<VoteOutcome>, ApiError> {
    let outcome = control
        .vote(&caller.user_id, &case_id, &body.proposal_id, body.approve)
        .await?;
    Ok(Json(outcome))
}

/// `GET /v1/moderation/audit` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// The server.
    server_id: String,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
    /// 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// A server's moderation audit log, oldest first (the policy's audit readers).
#[utoipa::path(get, path = "/v1/moderation/audit", tag = "moderation", params(AuditParams),
    responses((status = 200, body = AuditPage),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "server_not_found", body = ErrorSchema)))]
pub(crate) async fn audit(
    State(control): State<Control>,
    caller: Caller,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(p) = query.map_err(query_error)?;
    let page = control
        .moderation_audit(&caller.user_id, &p.server_id, p.cursor.as_deref(), p.limit)
        .await?;
    Ok(Json(page))
}
