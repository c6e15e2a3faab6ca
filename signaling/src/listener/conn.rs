//! Serving one connection: HTTP/1.1 with upgrades through the router, under the watchdog's
//! deadlines, and its part of a graceful stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use super::io::{ConnIo, Lingerer};
use super::state::{ConnState, InFlight, Timeouts};
use super::stats::ConnStats;
use super::table::ConnGuard;

/// What every connection task shares.
pub struct Shared {
    /// The application.
    pub router: Router,
    /// HTTP deadlines.
    pub timeouts: Timeouts,
    /// Counters.
    pub stats: Arc<ConnStats>,
    /// Lingering closes.
    pub lingerer: Lingerer,
    /// `Some(deadline)` once the server stops: requests in flight may run until then.
    pub stop: watch::Receiver<Option<Instant>>,
}

/// A response body that keeps its request counted as in flight until it is done.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `stream` (from `peer`, counted by `guard`) until it closes, a deadline expires, or
/// the server stops: then an idle or half-sent connection is dropped at once, and one with a
/// request in flight finishes that request (without keep-alive) until the stop deadline.
pub async fn serve(stream: TcpStream, peer: SocketAddr, guard: ConnGuard, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnState::new(guard));
    let io = TokioIo::new(ConnIo::new(stream, state.clone(), shared.lingerer.clone()));
    let service = {
        let state = state.clone();
        let router = shared.router.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let upgrade = request.headers().contains_key(header::UPGRADE);
            let in_flight = state.request_started(upgrade);
            request.extensions_mut().insert(state.linger.clone());
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let state = state.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    state.mark_upgraded();
                }
                Ok::<_, Infallible>(response.map(|body| TrackedBody {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut stop = shared.stop.clone();
    let deadline = tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        kind = state.watchdog(shared.timeouts) => {
            shared.stats.timed_out(kind);
            tracing::debug!(%peer, kind = kind.as_str(), "closing a connection: deadline expired");
            return;
        }
        deadline = stop.wait_for(Option::is_some) => match deadline {
            Ok(deadline) => (*deadline).unwrap_or_else(Instant::now),
            Err(_) => Instant::now(),
        },
    };
    if state.in_flight() == 0 {
        shared.stats.dropped_at_stop();
        return;
    }
    connection.as_mut().graceful_shutdown();
    if tokio::time::timeout_at(deadline, connection).await.is_err() {
        tracing::warn!(%peer, "a request did not finish within the shutdown grace; dropped");
    }
}

/// The 503 written to a refused connection before it is closed.
pub fn refusal_response(limit: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"error":{{"code":"too_many_connections","message":"connection limit reached, retry later","details":{{"limit":"{limit}"}}}}}}"#
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
