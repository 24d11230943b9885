//! Running the HTTP server on a thread of its own, so a synchronous
//! program (a job command, `shoal ui`, a worker) starts it, goes on with
//! its work, and stops it when done.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use tokio::sync::oneshot;

use crate::access::Access;
use crate::routes::{router, App};
use crate::source::Source;
use crate::UiError;

/// A running HTTP server; dropping it stops it.
pub struct UiServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), UiError>>>,
}

/// Binds `addr` (port 0 picks a free one).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, UiError> {
    let listener = TcpListener::bind(addr).map_err(|source| UiError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| UiError::Bind { addr, source })?;
    Ok(listener)
}

impl UiServer {
    /// Serves the dashboard of `source` on `listener` under `access`.
    /// `source_label` says where the data comes from (it must hold no
    /// secret: pass a redacted URL).
    pub fn start(
        listener: TcpListener,
        access: Access,
        source: Arc<dyn Source>,
        source_label: &str,
    ) -> Result<UiServer, UiError> {
        let app = Arc::new(App {
            source,
            access,
            source_label: source_label.to_string(),
        });
        Self::start_router(listener, router(app))
    }

    /// Serves only `GET /metrics` from `snapshot` (a worker's endpoint:
    /// read-only, nothing else). On a loopback address, requests must name
    /// a loopback host (DNS rebinding).
    pub fn start_metrics(
        listener: TcpListener,
        snapshot: Arc<dyn Fn() -> crate::MetricsSnapshot + Send + Sync>,
    ) -> Result<UiServer, UiError> {
        let addr = local_addr(&listener)?;
        Self::start_router(listener, crate::worker_metrics::router(addr, snapshot))
    }

    fn start_router(listener: TcpListener, router: Router) -> Result<UiServer, UiError> {
        let addr = local_addr(&listener)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()
            .map_err(UiError::Runtime)?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("shoal-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .map_err(|source| UiError::Bind { addr, source })?;
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stop_rx.await;
                        })
                        .await
                        .map_err(UiError::Runtime)
                })
            })
            .map_err(UiError::Runtime)?;
        Ok(UiServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`, with `localhost` for a loopback address.
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_loopback() && self.addr.is_ipv4() {
            self.addr.ip().to_string()
        } else if self.addr.is_ipv6() {
            format!("[{}]", self.addr.ip())
        } else {
            self.addr.ip().to_string()
        };
        format!("http://{host}:{}/", self.addr.port())
    }

    /// Stops accepting requests, finishes the ones in flight, and returns
    /// how the server ended.
    pub fn stop(mut self) -> Result<(), UiError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), UiError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(UiError::Runtime(std::io::Error::other(
                    "server thread panicked",
                )))
            }),
            None => Ok(()),
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, UiError> {
    listener.local_addr().map_err(UiError::Runtime)
}
