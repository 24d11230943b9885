//! The dashboard's HTTP routes, behind the access rules of `access.rs`.
//!
//! | route                          | what                                   |
//! |--------------------------------|----------------------------------------|
//! | `GET /`                        | overview (cluster) or the job (embedded) |
//! | `GET /jobs/{id}`               | a job's page                           |
//! | `GET /workers/{name}`          | a worker's page                        |
//! | `GET /api/overview`, `/api/jobs/{id}`, `/api/workers/{name}` | the same data as JSON |
//! | `POST /api/jobs/{id}/cancel`   | cancel (needs the cancel token header) |
//! | `GET /metrics`                 | Prometheus text format                 |
//! | `GET /assets/…`                | the embedded stylesheet, script, icon  |
//!
//! Pages take `?partial=1` to return only their `<main>` (live updates),
//! with `X-Shoal-Live` saying whether the data can still change.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::access::{Access, Verdict, CANCEL_HEADER, COOKIE};
use crate::pages::{self, Chrome, Page};
use crate::source::{Front, Source};
use crate::UiError;

/// What every handler shares.
pub(crate) struct App {
    pub source: Arc<dyn Source>,
    pub access: Access,
    /// Where the data comes from, as the header shows it (no secrets).
    pub source_label: String,
}

type Shared = Arc<App>;

/// Scripts, styles and images come only from this server; nothing runs
/// inline and no other site may frame the pages.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The dashboard's router.
pub(crate) fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(front))
        .route("/jobs/{id}", get(job_page))
        .route("/workers/{name}", get(worker_page))
        .route("/api/overview", get(overview_json))
        .route("/api/jobs/{id}", get(job_json))
        .route("/api/workers/{name}", get(worker_json))
        .route("/api/jobs/{id}/cancel", post(cancel))
        .route("/metrics", get(metrics))
        .route(
            "/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/assets/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .route(
            "/assets/favicon.svg",
            get(|| asset("image/svg+xml", FAVICON)),
        )
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The access rules, and the headers every response carries.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let query: HashMap<String, String> = Query::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let verdict = app.access.check(
        header_str(headers, header::HOST),
        header_str(headers, header::AUTHORIZATION),
        header_str(headers, header::COOKIE),
        query.get("token").map(String::as_str),
    );
    let mut response = match verdict {
        Verdict::BadHost => plain(
            StatusCode::FORBIDDEN,
            "refused: the Host header does not name this server\n",
        ),
        Verdict::Unauthorized => {
            let mut r = plain(
                StatusCode::UNAUTHORIZED,
                "this dashboard needs its token: visit /?token=TOKEN once, or send Authorization: Bearer TOKEN\n",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"shoal\""),
            );
            r
        }
        Verdict::AllowAndSetCookie => token_cookie_redirect(&app, request.uri()),
        Verdict::Allow => next.run(request).await,
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The token came in the URL: keep it in a cookie and send the browser to
/// the same page without it, so it stays out of history and logs.
fn token_cookie_redirect(app: &App, uri: &axum::http::Uri) -> Response {
    let token = app.access.cancel_token();
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let location = uri.path().to_string();
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let (Ok(cookie), Ok(location)) = (
        HeaderValue::from_str(&cookie),
        HeaderValue::from_str(&location),
    ) {
        h.insert(header::SET_COOKIE, cookie);
        h.insert(header::LOCATION, location);
    }
    response
}

/// Runs a blocking source call off the async threads.
async fn blocking<T: Send + 'static>(
    app: &Shared,
    call: impl FnOnce(&dyn Source) -> Result<T, UiError> + Send + 'static,
) -> Result<T, Response> {
    let source = app.source.clone();
    match tokio::task::spawn_blocking(move || call(source.as_ref())).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot read the cluster's state: {err}\n"),
        )),
        Err(_) => Err(plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed\n",
        )),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A page, whole or (`?partial=1`) only its `<main>`.
fn render(
    app: &App,
    page: Page,
    status: StatusCode,
    uri: &axum::http::Uri,
    partial: bool,
) -> Response {
    let live = if page.live { "true" } else { "false" };
    let body = if partial {
        page.main
    } else {
        let chrome = Chrome {
            source: &app.source_label,
            cancel_token: app.access.cancel_token(),
        };
        page.document(&chrome, &format!("{}?partial=1", uri.path()))
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::HeaderName::from_static("x-shoal-live"), live),
        ],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    partial: Option<String>,
}

impl PageQuery {
    fn partial(&self) -> bool {
        self.partial.as_deref().is_some_and(|p| p != "0")
    }
}

async fn front(State(app): State<Shared>, q: Query<PageQuery>, uri: axum::http::Uri) -> Response {
    match app.source.front() {
        Front::Overview => {
            let overview = match blocking(&app, |s| s.overview()).await {
                Ok(o) => o,
                Err(r) => return r,
            };
            let page = pages::overview_page(&overview, now_ms());
            render(&app, page, StatusCode::OK, &uri, q.partial())
        }
        Front::Job(id) => job_response(app, id, q.partial(), uri).await,
    }
}

async fn job_page(
    State(app): State<Shared>,
    Path(id): Path<String>,
    q: Query<PageQuery>,
    uri: axum::http::Uri,
) -> Response {
    job_response(app, id, q.partial(), uri).await
}

async fn job_response(app: Shared, id: String, partial: bool, uri: axum::http::Uri) -> Response {
    let wanted = id.clone();
    match blocking(&app, move |s| s.job(&wanted)).await {
        Ok(Some(detail)) => render(
            &app,
            pages::job_page(&detail, now_ms()),
            StatusCode::OK,
            &uri,
            partial,
        ),
        Ok(None) => render(
            &app,
            pages::not_found(&format!(
                "No job {id} (finished jobs are kept for the retention time)."
            )),
            StatusCode::NOT_FOUND,
            &uri,
            partial,
        ),
        Err(r) => r,
    }
}

async fn worker_page(
    State(app): State<Shared>,
    Path(name): Path<String>,
    q: Query<PageQuery>,
    uri: axum::http::Uri,
) -> Response {
    let wanted = name.clone();
    match blocking(&app, move |s| s.worker(&wanted)).await {
        Ok(Some(detail)) => render(
            &app,
            pages::worker_page(&detail),
            StatusCode::OK,
            &uri,
            q.partial(),
        ),
        Ok(None) => render(
            &app,
            pages::not_found(&format!("No live worker {name}.")),
            StatusCode::NOT_FOUND,
            &uri,
            q.partial(),
        ),
        Err(r) => r,
    }
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode\n"),
    }
}

async fn overview_json(State(app): State<Shared>) -> Response {
    match blocking(&app, |s| s.overview()).await {
        Ok(o) => json(&o),
        Err(r) => r,
    }
}

async fn job_json(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    match blocking(&app, move |s| s.job(&id)).await {
        Ok(Some(d)) => json(&d),
        Ok(None) => plain(StatusCode::NOT_FOUND, "no such job\n"),
        Err(r) => r,
    }
}

async fn worker_json(State(app): State<Shared>, Path(name): Path<String>) -> Response {
    match blocking(&app, move |s| s.worker(&name)).await {
        Ok(Some(d)) => json(&d),
        Ok(None) => plain(StatusCode::NOT_FOUND, "no such worker\n"),
        Err(r) => r,
    }
}

async fn cancel(State(app): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !app.access.may_cancel(header_str(&headers, CANCEL_HEADER)) {
        return plain(
            StatusCode::FORBIDDEN,
            "cancelling needs the cancel token in the X-Shoal-Token header\n",
        );
    }
    match blocking(&app, move |s| s.cancel(&id)).await {
        Ok(true) => plain(StatusCode::OK, "cancelled\n"),
        Ok(false) => plain(StatusCode::CONFLICT, "no such running job\n"),
        Err(r) => r,
    }
}

async fn metrics(State(app): State<Shared>) -> Response {
    match blocking(&app, |s| s.metrics()).await {
        Ok(snapshot) => (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            snapshot.render(),
        )
            .into_response(),
        Err(r) => r,
    }
}
