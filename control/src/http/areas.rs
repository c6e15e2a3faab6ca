//! Route table of communities, profiles, devices and keys (merged into [`super::router`]), and
//! of the public routes (no caller needed): the OpenAPI document and avatar images.

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{communities, devices, keys, openapi, profiles};
use crate::Control;
use crate::keys::{MAX_ENVELOPE_BYTES, MAX_ENVELOPES_PER_PUBLISH};

/// Body limit for JSON carrying `bytes` of base64 payload, with room for the JSON around it.
fn json_limit(bytes: usize) -> usize {
    bytes / 3 * 4 + 64 * 1024
}

/// Authenticated routes of these areas, each with its OpenAPI entry.
pub(crate) fn routes(control: &Control) -> OpenApiRouter<Control> {
    let opts = control.options();
    let avatar_limit = DefaultBodyLimit::max(opts.avatar_max_bytes);
    let envelopes_limit =
        DefaultBodyLimit::max(json_limit(MAX_ENVELOPE_BYTES * MAX_ENVELOPES_PER_PUBLISH));
    // The packages and the last-resort one.
    let packages_limit = DefaultBodyLimit::max(json_limit(
        crate::keys::MAX_PACKAGE_BYTES * (crate::keys::MAX_PACKAGES_PER_UPLOAD + 1),
    ));
    let backup_limit = DefaultBodyLimit::max(json_limit(opts.key_backup_max_bytes));
    OpenApiRouter::new()
        .routes(routes!(communities::my_channels))
        .routes(routes!(communities::list_roles))
        .routes(routes!(communities::list_members))
        .routes(routes!(communities::remove_member))
        .routes(routes!(communities::set_role))
        .routes(routes!(communities::leave))
        .routes(routes!(
            communities::create_invitation,
            communities::list_invitations
        ))
        .routes(routes!(communities::revoke_invitation))
        .routes(routes!(communities::accept_invitation))
        .routes(routes!(communities::preview_invitation))
        .routes(routes!(profiles::get_me, profiles::put_me))
        .routes(routes!(profiles::upload_avatar).layer(avatar_limit))
        .routes(routes!(profiles::batch))
        .routes(routes!(devices::list))
        .routes(routes!(devices::link_start))
        .routes(routes!(devices::link_confirm))
        .routes(routes!(devices::revoke))
        .routes(routes!(keys::publish_envelopes).layer(envelopes_limit))
        .routes(routes!(keys::read_envelopes))
        .routes(routes!(keys::ack_envelopes))
        .routes(routes!(keys::upload_packages).layer(packages_limit))
        .routes(routes!(keys::claim_packages))
        .routes(routes!(keys::count_packages))
        .routes(routes!(keys::put_backup).layer(backup_limit))
        .routes(routes!(keys::latest_backup))
}

/// Routes that need no caller, each with its OpenAPI entry.
pub(crate) fn public_routes() -> OpenApiRouter<Control> {
    OpenApiRouter::new()
        .routes(routes!(openapi::serve))
        .routes(routes!(profiles::get_avatar))
}
