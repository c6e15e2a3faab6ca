//! Route table of communities, profiles, devices and keys (merged into [`super::router`]), and
//! of the public routes (no caller needed): the OpenAPI document and avatar images.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

use super::{communities, devices, keys, openapi, profiles};
use crate::Control;
use crate::keys::{MAX_ENVELOPE_BYTES, MAX_ENVELOPES_PER_PUBLISH};

/// Body limit for JSON carrying `bytes` of base64 payload, with room for the JSON around it.
fn json_limit(bytes: usize) -> usize {
    bytes / 3 * 4 + 64 * 1024
}

/// Authenticated routes of these areas.
pub(crate) fn routes(control: &Control) -> Router<Control> {
    let opts = control.options();
    Router::new()
        .route("/v1/channels", get(communities::my_channels))
        .route(
            "/v1/servers/{server_id}/roles",
            get(communities::list_roles),
        )
        .route(
            "/v1/servers/{server_id}/members",
            get(communities::list_members),
        )
        .route(
            "/v1/servers/{server_id}/members/{user_id}",
            delete(communities::remove_member),
        )
        .route(
            "/v1/servers/{server_id}/members/{user_id}/role",
            put(communities::set_role),
        )
        .route("/v1/servers/{server_id}/leave", post(communities::leave))
        .route(
            "/v1/servers/{server_id}/invitations",
            post(communities::create_invitation).get(communities::list_invitations),
        )
        .route(
            "/v1/servers/{server_id}/invitations/{token}",
            delete(communities::revoke_invitation),
        )
        .route(
            "/v1/invitations/{token}/accept",
            post(communities::accept_invitation),
        )
        .route(
            "/v1/invitations/{token}",
            get(communities::preview_invitation),
        )
        .route(
            "/v1/profile/me",
            get(profiles::get_me).put(profiles::put_me),
        )
        .route(
            "/v1/profile/avatar",
            post(profiles::upload_avatar).layer(DefaultBodyLimit::max(opts.avatar_max_bytes)),
        )
        .route("/v1/profiles:batch", get(profiles::batch))
        .route("/v1/devices", get(devices::list))
        .route("/v1/devices/link/start", post(devices::link_start))
        .route("/v1/devices/link/confirm", post(devices::link_confirm))
        .route("/v1/devices/{device_id}", delete(devices::revoke))
        .route(
            "/v1/keys/envelopes/publish",
            post(keys::publish_envelopes).layer(DefaultBodyLimit::max(json_limit(
                MAX_ENVELOPE_BYTES * MAX_ENVELOPES_PER_PUBLISH,
            ))),
        )
        .route("/v1/keys/envelopes", get(keys::read_envelopes))
        .route("/v1/keys/envelopes/ack", post(keys::ack_envelopes))
        .route(
            "/v1/keys/packages",
            post(keys::upload_packages).layer(DefaultBodyLimit::max(json_limit(
                // The packages and the last-resort one.
                crate::keys::MAX_PACKAGE_BYTES * (crate::keys::MAX_PACKAGES_PER_UPLOAD + 1),
            ))),
        )
        .route("/v1/keys/packages/claim", post(keys::claim_packages))
        .route("/v1/keys/packages/count", get(keys::count_packages))
        .route(
            "/v1/keys/backups",
            post(keys::put_backup)
                .layer(DefaultBodyLimit::max(json_limit(opts.key_backup_max_bytes))),
        )
        .route("/v1/keys/backups/latest", get(keys::latest_backup))
}

/// Routes that need no caller.
pub(crate) fn public_routes() -> Router<Control> {
    Router::new()
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/profile/avatar/{asset_id}", get(profiles::get_avatar))
}
