//! Control's HTTP API (`/v1/servers...`) and the error shape every OpenChat HTTP answer shares.
//!
//! Authentication is not done here: signaling's auth middleware inserts a [`Caller`] into the
//! request extensions. Routes answer 401 `missing_token` when it is absent.

mod areas;
mod channel_errors;
mod channels;
mod communities;
mod devices;
pub mod edge;
mod error;
mod extract;
mod keys;
mod moderation;
pub mod openapi;
mod profiles;
mod realtime;
mod servers;
mod upgrade;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use extract::{ApiBody, ApiJson, ApiPath, Caller, json_object};
pub use upgrade::{WEBSOCKET_KEY_PATTERN, websocket_upgrade};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Control;

/// The routes that need a caller, each registered with its OpenAPI entry; `control` as state.
pub(crate) fn router(control: Control) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(servers::create_server, servers::list_servers))
        .routes(routes!(servers::create_channel, servers::list_channels))
        .routes(routes!(servers::add_member))
        .merge(areas::routes(&control))
        .merge(channels::routes())
        .merge(realtime::routes())
        .merge(moderation::routes())
        .with_state(control)
}

/// Routes that need no caller (the OpenAPI document, avatar images), with `control` as state.
pub(crate) fn public_router(control: Control) -> OpenApiRouter {
    areas::public_routes().with_state(control)
}
