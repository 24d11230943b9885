//! A worker's own `/metrics` endpoint: read-only, and nothing else.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::access::host_allowed;
use crate::MetricsSnapshot;

/// `GET /metrics` from `snapshot`; every other path is 404, every other
/// method 405. On a loopback address the `Host` must be a loopback name
/// (a web page cannot rebind its name to read it); on other addresses the
/// endpoint is meant for remote scrapers and serves anyone.
pub(crate) fn router(
    bind: SocketAddr,
    snapshot: Arc<dyn Fn() -> MetricsSnapshot + Send + Sync>,
) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let snapshot = snapshot.clone();
                async move {
                    let text = snapshot().render();
                    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
                }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics here\n").into_response() })
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| async move {
                let host = request
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok());
                let loopback_only = bind.ip().is_loopback();
                if loopback_only && !host.is_some_and(|h| host_allowed(bind, &[], h)) {
                    return (
                        StatusCode::FORBIDDEN,
                        "refused: Host does not name this server\n",
                    )
                        .into_response();
                }
                next.run(request).await
            },
        ))
}
