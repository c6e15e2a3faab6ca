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
pub mod openapi;
mod profiles;
mod realtime;
mod servers;
mod upgrade;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use extract::{ApiBody, ApiJson, ApiPath, Caller, json_object};
pub use upgrade::{WEBSOCKET_KEY_PATTERN, websocket_upgrade};

use axum::Router;
use axum::routing::post;

use crate::Control;

/// The routes, with `control` as state.
pub(crate) fn router(control: Control) -> Router {
    Router::new()
        .route(
            "/v1/servers",
            post(servers::create_server).get(servers::list_servers),
        )
        .route(
            "/v1/servers/{server_id}/channels",
            post(servers::create_channel).get(servers::list_channels),
        )
        .route("/v1/servers/{server_id}/members", post(servers::add_member))
        .merge(areas::routes(&control))
        .merge(channels::routes())
        .merge(realtime::routes())
        .with_state(control)
}

/// Routes that need no caller (the OpenAPI document, avatar images), with `control` as state.
pub(crate) fn public_router(control: Control) -> Router {
    areas::public_routes().with_state(control)
}
