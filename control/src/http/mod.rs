//! Control's HTTP API (`/v1/servers...`) and the error shape every OpenChat HTTP answer shares.
//!
//! Authentication is not done here: signaling's auth middleware inserts a [`Caller`] into the
//! request extensions. Routes answer 401 `missing_token` when it is absent.

mod error;
mod extract;
mod servers;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use extract::{ApiJson, ApiPath, Caller};

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
        .with_state(control)
}
