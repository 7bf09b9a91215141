//! Building and running the HTTP server: accept loop, body limits, timeouts, request logs,
//! graceful shutdown, config hot-reload.

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::domain::action::Action;
use crate::error::AppError;
use crate::services::app::App;
use crate::web::http::{Request, Response};
use crate::web::routing::{self, Route};

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `/readyz` may wait for the database.
const READY_BOUND: Duration = Duration::from_millis(800);
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long the provisioning worker gets to let go after the requests have finished.
const WORKER_STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Application {
    listener: TcpListener,
    app: Arc<App>,
}

impl Application {
    /// Bind the listening socket (port 0 picks a free one) and build the shared state.
    pub async fn build(config: Config, clock: Clock) -> Result<Application, AppError> {
        let db = Db::new(&config)?;
        if config.gateway_aes_key.is_none() {
            // Channel credentials then stay plain JSON, as the original stored them.
            tracing::warn!("{}", crate::services::channels::PLAINTEXT_WARNING);
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| AppError::internal(format!("cannot listen on {}: {e}", config.listen)))?;
        let app = Arc::new(App::new(config, db, clock));
        Ok(Application { listener, app })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// Serve until `shutdown` resolves, then drain: stop accepting, answer every request
    /// already received, and close idle keep-alive connections only after a last read.
    ///
    /// hyper's own graceful shutdown closes a connection it considers idle without reading
    /// what the client may already have sent on it (hyperium/hyper#3792): requests written on
    /// keep-alive connections just before SIGTERM were dropped unanswered (156–178 of 500).
    /// Here each connection's socket is wrapped in [`DrainIo`], which ends an idle connection
    /// (EOF to hyper) only when the socket holds no unread byte; otherwise the request is
    /// read and answered with `Connection: close`.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        let Application { listener, app } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        spawn_addon_watcher(app.clone(), stop_rx.clone());
        crate::services::signup::spawn_abandoned_sweeper(app.clone(), stop_rx.clone());
        let worker = crate::services::worker::spawn(app.clone(), stop_rx.clone());
        let draining = CancellationToken::new();
        let connections = TaskTracker::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let state = Arc::new(ConnState::default());
                    let io = DrainIo::new(stream, draining.clone(), state.clone());
                    let app = app.clone();
                    let draining = draining.clone();
                    let service = service_fn(move |req| {
                        let app = app.clone();
                        let draining = draining.clone();
                        let busy = RequestGuard::enter(state.clone());
                        async move {
                            let mut resp = handle(app, req, peer).await;
                            if draining.is_cancelled() {
                                // hyper closes the connection once this answer is written.
                                resp.headers_mut()
                                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                            }
                            drop(busy);
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(TokioIo::new(io), service);
                    connections.spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        draining.cancel();
        connections.close();
        tracing::info!(
            connections = connections.len(),
            "shutting down: answering requests already received"
        );
        if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish in time");
        }
        // The worker abandons its call at the stop signal; it must let go of its connections
        // before the pool is closed (closing waits for them).
        if let Some(mut w) = worker
            && tokio::time::timeout(WORKER_STOP_GRACE, &mut w)
                .await
                .is_err()
        {
            tracing::warn!("provisioning worker did not stop in time; aborting it");
            w.abort();
            let _ = w.await;
        }
        let _ = app.db.pool.clone().disconnect().await;
    }

    /// Serve until SIGTERM or Ctrl-C.
    pub async fn run(self) {
        self.run_until(shutdown_signal()).await
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// What the drain needs to know about one connection.
#[derive(Default)]
struct ConnState {
    /// Requests of this connection being answered (hyper's HTTP/1 handles one at a time).
    in_flight: AtomicUsize,
    /// Bytes were read since the last answer: a request is arriving, the connection is not
    /// idle even if the socket is momentarily empty.
    read_since_answer: AtomicBool,
}

/// Marks a request in flight for as long as its service future lives (hyper drops it when
/// the client goes away).
struct RequestGuard(Arc<ConnState>);

impl RequestGuard {
    fn enter(state: Arc<ConnState>) -> RequestGuard {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(state)
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        // The request (body included) has been read in full by now.
        self.0.read_since_answer.store(false, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's socket as hyper sees it. Once draining, an idle connection reads as
/// closed (hyper then closes it cleanly), but only after a last look at the socket: bytes
/// already there are a request the client has sent, so they are read and answered.
struct DrainIo {
    inner: tokio::net::TcpStream,
    draining: CancellationToken,
    /// Wakes a read parked on an idle socket when draining starts.
    drain_started: Pin<Box<WaitForCancellationFutureOwned>>,
    state: Arc<ConnState>,
}

impl DrainIo {
    fn new(
        inner: tokio::net::TcpStream,
        draining: CancellationToken,
        state: Arc<ConnState>,
    ) -> DrainIo {
        DrainIo {
            inner,
            drain_started: Box::pin(draining.clone().cancelled_owned()),
            draining,
            state,
        }
    }

    fn idle(&self) -> bool {
        self.state.in_flight.load(Ordering::Acquire) == 0
            && !self.state.read_since_answer.load(Ordering::Acquire)
    }
}

/// Whether the peer has sent bytes we have not read. Asks the kernel directly: the
/// runtime's readiness flag can lag behind data that has already arrived.
#[cfg(unix)]
fn unread_bytes_waiting(s: &tokio::net::TcpStream) -> bool {
    use std::os::fd::AsRawFd as _;
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own, on a socket this stream owns; MSG_PEEK leaves the
    // data in place and MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n > 0
}

#[cfg(not(unix))]
fn unread_bytes_waiting(_s: &tokio::net::TcpStream) -> bool {
    // Without a kernel peek, keep reading: the header timeout still ends the connection.
    true
}

impl AsyncRead for DrainIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.draining.is_cancelled() && this.idle() && !unread_bytes_waiting(&this.inner) {
            // End of stream: nothing was sent on this connection since its last answer.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.read_since_answer.store(true, Ordering::Release);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if !this.draining.is_cancelled() && this.drain_started.as_mut().poll(cx).is_ready()
                {
                    // Draining started just now: take the last look.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for DrainIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{n:06x}", std::process::id())
}

async fn handle(app: Arc<App>, req: http::Request<Incoming>, peer: SocketAddr) -> Response {
    let started = Instant::now();
    let id = next_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = routing::resolve(&path, req.uri().query(), &app.config.admin_entry);
    let label = match &route {
        Route::Action { action, .. } => action.name(),
        Route::UnknownAction { .. } => "unknown_action",
        Route::Health => "healthz",
        Route::Ready => "readyz",
        Route::Metrics => "metrics",
        Route::NotFound => "not_found",
    };
    let mut resp = respond(&app, req, route, peer, id.clone()).await;
    if method == Method::HEAD {
        // Headers of the GET answer, no body.
        let (parts, _) = resp.into_parts();
        resp = http::Response::from_parts(parts, Full::new(Bytes::new()));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    app.metrics
        .record_request(label, resp.status().as_u16(), started.elapsed());
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

/// `trusted_proxies` unset (the default) behind nginx makes every member nginx's address:
/// one sign-in limit shared by all and no `Secure` cookies. Counted for `check --live` and
/// logged at most once a minute, never per request.
fn warn_if_behind_an_untrusted_proxy(app: &App, headers: &http::HeaderMap, peer: SocketAddr) {
    if !headers.contains_key("x-forwarded-for")
        || app
            .config
            .trusted_proxies
            .iter()
            .any(|n| n.contains(peer.ip()))
    {
        return;
    }
    if app.metrics.record_untrusted_forward(app.clock.epoch()) {
        tracing::warn!(
            proxy = %peer.ip(),
            "requests carry X-Forwarded-For from an address not in trusted_proxies: every \
             client is seen as that proxy (shared sign-in limits, no Secure cookies); set \
             trusted_proxies to your nginx's address"
        );
    }
}

// Long on purpose: the one dispatch from a route to its handler (a match arm per route).
async fn respond(
    app: &Arc<App>,
    req: http::Request<Incoming>,
    route: Route,
    peer: SocketAddr,
    id: String,
) -> Response {
    match route {
        Route::Health => return crate::web::http::text("ok"),
        Route::Ready => {
            // A load balancer's probe must get its answer within a second, whatever the
            // database does. It always probes: that is also how an outage is seen to end
            // while no traffic arrives.
            return if app.db.conn_within(READY_BOUND).await.is_ok() {
                crate::web::http::text("ready")
            } else {
                crate::web::http::html_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database unreachable",
                )
            };
        }
        _ => {}
    }
    let (parts, body) = req.into_parts();
    let limit = app.config.max_body_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return AppError::PayloadTooLarge.into_response();
    }
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect())
        .await
    {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return AppError::PayloadTooLarge.into_response();
        }
        Ok(Err(_)) => return AppError::BadRequest("请求读取失败").into_response(),
        Err(_) => {
            return crate::web::http::html_status(
                StatusCode::REQUEST_TIMEOUT,
                crate::web::pages::fastadmin::error_page("请求超时", "请求发送时间过长，请重试。"),
            );
        }
    };
    warn_if_behind_an_untrusted_proxy(app, &parts.headers, peer);
    let request = match Request::new(
        id.clone(),
        parts,
        body,
        peer,
        &app.config.trusted_proxies,
        route.clone(),
    ) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let bound = request_bound(&app.config, &route);
    let work = {
        let app = app.clone();
        async move {
            match route {
                Route::Action { action, .. } => {
                    crate::web::handlers::dispatch(&app, action, &request).await
                }
                Route::UnknownAction { .. } => {
                    Ok(crate::web::handlers::unknown_action(&app, &request).await)
                }
                Route::NotFound => Err(AppError::NotFound),
                Route::Metrics => {
                    let database = crate::db::stats::metrics_series(&app.db).await.ok();
                    Ok(crate::web::http::text(
                        app.metrics.render(database.as_ref()),
                    ))
                }
                Route::Health | Route::Ready => unreachable!("answered above"),
            }
        }
    };
    // Each request runs in its own task so a panic becomes a 500, never a dead server. The
    // bound is applied inside the task: past it the handler is dropped there and then (with
    // its connection and any open transaction, rolled back: see `db::within`), instead of
    // running on detached after its answer. Its 503 goes through the one error mapping
    // below, counted by `DbHealth`, not logged per request.
    let result = match tokio::spawn(crate::db::within(bound, "request", work)).await {
        Ok(r) => r,
        Err(e) => Err(AppError::internal(format!("handler panicked: {e}"))),
    };
    match result {
        Ok(r) => r,
        Err(e) => {
            e.report(&app.db.health, &id);
            e.into_response()
        }
    }
}

/// How long a request may take in all: `request_timeout_ms` for its own work (database
/// statements included), plus the budget of the calls to other servers its route makes,
/// which have bounds of their own and must not be cut by this one. The one place these are
/// added up.
pub fn request_bound(config: &Config, route: &Route) -> Duration {
    let calls = match route {
        // Its attempts all run inside its deadline (waiting for admission included).
        Route::Action {
            action: Action::Register,
            ..
        } => {
            // Its last attempt may run past the budget by up to one minimal attempt.
            config.register_timeout + crate::services::signup::MIN_ATTEMPT_TIMEOUT
        }
        Route::Action {
            action: Action::Reprovision,
            ..
        } => config.provision_call_timeout,
        Route::Action {
            action: Action::Suspend | Action::Activate,
            ..
        } => crate::services::admin::PROVISION_TIMEOUT,
        Route::Action {
            action: Action::PayWechat,
            ..
        } => crate::clients::pay::wechat::ORDER_TIMEOUT,
        // The refund call and, for Alipay, its confirming query.
        Route::Action {
            action: Action::Refund,
            ..
        } => 2 * (crate::services::refund::ADMIN_CALL_TIMEOUT + Duration::from_secs(1)),
        _ => Duration::ZERO,
    };
    config.request_timeout + calls
}

/// With `--fastadmin-root`, an admin editing the addon's settings in FastAdmin changes
/// `config.php`; the original re-read it on every request, so we notice within seconds.
/// SIGHUP forces a reload.
fn spawn_addon_watcher(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(path) = app.config.addon_config_php.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mtime = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut last: Option<SystemTime> = mtime(&path);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hup_fut = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hup_fut = std::future::pending::<()>();
            let forced = tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(2)) => false,
                _ = hup_fut => true,
            };
            let now = mtime(&path);
            if !forced && now == last {
                continue;
            }
            last = now;
            reload_addon(&app, &path);
        }
    });
}

/// The same loader as at start-up, on the same sources and environment: every source keeps
/// its precedence (the environment, then the TOML file, over `config.php`). Only the addon's
/// settings change at run time; an invalid edit keeps the ones in force.
fn reload_addon(app: &App, path: &std::path::Path) {
    match app.config.reload() {
        Ok(cfg) => {
            app.replace_addon(cfg.addon);
            tracing::info!(path = %path.display(), "addon config reloaded");
        }
        Err(errors) => {
            tracing::warn!(path = %path.display(), errors = %errors, "addon config invalid; keeping the current one")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSources;

    fn route(action: Action) -> Route {
        Route::Action {
            action,
            via_admin_entry: false,
            path_params: Vec::new(),
        }
    }

    #[test]
    fn routes_that_call_other_servers_get_the_call_budget_on_top() {
        let env = [
            ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1/x"),
            (
                "CHATHUB_SESSION_SECRET",
                "0123456789abcdef0123456789abcdef-secret",
            ),
            ("CHATHUB_REQUEST_TIMEOUT_MS", "7000"),
            ("CHATHUB_REGISTER_TIMEOUT_SECS", "25"),
            ("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "20"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::load_with_env(&ConfigSources::default(), &env).unwrap();
        let ms = |r: Route| request_bound(&config, &r).as_millis();
        assert_eq!(ms(route(Action::My)), 7_000);
        assert_eq!(ms(route(Action::PayNotify)), 7_000);
        assert_eq!(ms(Route::Metrics), 7_000);
        assert_eq!(ms(route(Action::Register)), 7_000 + 26_000);
        assert_eq!(ms(route(Action::Reprovision)), 7_000 + 20_000);
        assert_eq!(ms(route(Action::Suspend)), 7_000 + 30_000);
        assert_eq!(ms(route(Action::Activate)), 7_000 + 30_000);
        assert_eq!(ms(route(Action::PayWechat)), 7_000 + 15_000);
    }
}
