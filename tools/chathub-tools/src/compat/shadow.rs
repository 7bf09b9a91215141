//! `cargo compat shadow`: receives nginx `mirror` copies of live requests, replays the public
//! GETs to the primary (old) and shadow (new) sites without cookies, and reports per route
//! where the two answers differ, compared like `compat diff`.
//!
//! Safe next to production: only GET/HEAD on actions that do not write are forwarded (never a
//! POST, never an action that changes rows such as renew or payReturn), cookies are stripped so
//! no member or admin context travels, requests are sampled and bounded in flight, and the
//! report keeps a few examples per route and a bounded number of routes.
//!
//! nginx (the mirror's answer is ignored; the user is served by the primary as before):
//!
//! ```nginx
//! location /addons/chathub/ {
//!     mirror /_chathub_shadow;
//!     mirror_request_body off;
//!     proxy_pass http://php_site;
//! }
//! location = /_chathub_shadow {
//!     internal;
//!     proxy_pass http://127.0.0.1:7070$request_uri;
//!     proxy_set_header X-Original-Method $request_method;
//!     proxy_pass_request_body off;
//!     proxy_set_header Content-Length "";
//! }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::compare::{self, CompareOptions, Difference};
use super::exchange::{self, Jar};

/// Actions that change state even on GET (or need a signed-in user): never forwarded.
const WRITING_ACTIONS: &[&str] = &[
    "register",
    "dologin",
    "logout",
    "changepassword",
    "renew",
    "payalipay",
    "paywechat",
    "paynotify",
    "payreturn",
    "channelauth",
    "channelcallback",
    "reprovision",
    "add",
    "del",
    "suspend",
    "activate",
    "setexpire",
];
const MAX_ROUTES: usize = 200;
const EXAMPLES_PER_ROUTE: usize = 3;
/// Masks for live traffic: "now" values and FastAdmin's form tokens.
const LIVE_MASKS: &[&str] = &["now-datetime", "now-epoch", "fastadmin-token"];

#[derive(Debug, Clone)]
pub struct ShadowOptions {
    pub listen: SocketAddr,
    pub primary: String,
    pub shadow: String,
    /// Compare one request in `sample`.
    pub sample: u64,
    pub max_in_flight: usize,
}

#[derive(Debug, Default, Clone)]
pub struct RouteStats {
    pub compared: u64,
    pub different: u64,
    /// (request path, differences) of the first few differing pairs.
    pub examples: Vec<(String, Vec<Difference>)>,
}

#[derive(Debug, Default)]
pub struct ShadowReport {
    pub received: AtomicU64,
    pub skipped_unsafe: AtomicU64,
    pub skipped_sampling: AtomicU64,
    pub skipped_busy: AtomicU64,
    pub failed: AtomicU64,
    pub routes: Mutex<BTreeMap<String, RouteStats>>,
}

impl ShadowReport {
    pub fn route(&self, route: &str) -> Option<RouteStats> {
        lock(&self.routes).get(route).cloned()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (route, s) in lock(&self.routes).iter() {
            out.push_str(&format!(
                "route {route}: {} compared, {} different\n",
                s.compared, s.different
            ));
            for (path, diffs) in &s.examples {
                out.push_str(&format!("  {path}\n"));
                out.push_str(&compare::render("   ", diffs));
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "shadow: {} received, {} not forwarded (writes/POST), {} not sampled, {} dropped (busy), {} failed\n",
            self.received.load(Ordering::Relaxed),
            self.skipped_unsafe.load(Ordering::Relaxed),
            self.skipped_sampling.load(Ordering::Relaxed),
            self.skipped_busy.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        ));
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The addon action a path names (`/addons/chathub/index/registerPage.html?x` -> `registerpage`),
/// `index` for the controller's root (FastAdmin's default action); `None` outside the addon.
pub fn action_of(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or("");
    let lower = path.to_ascii_lowercase();
    let i = lower.find("/addons/chathub")?;
    let rest = lower[i + "/addons/chathub".len()..].trim_matches('/');
    let mut parts = rest.split('/');
    let _controller = parts.next();
    let action = parts.next().unwrap_or("");
    let action = action.split('.').next().unwrap_or("");
    Some(if action.is_empty() {
        "index".into()
    } else {
        action.to_string()
    })
}

/// Is a mirrored request safe to replay to both sites?
pub fn forwardable(method: &str, path: &str) -> bool {
    (method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
        && action_of(path).is_some_and(|a| !WRITING_ACTIONS.contains(&a.as_str()))
}

pub struct Shadow {
    addr: SocketAddr,
    pub report: Arc<ShadowReport>,
    task: tokio::task::JoinHandle<()>,
}

impl Shadow {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Shadow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    opts: ShadowOptions,
    report: Arc<ShadowReport>,
    client: reqwest::Client,
    in_flight: Semaphore,
    counter: AtomicU64,
}

pub async fn start(opts: ShadowOptions) -> std::io::Result<Shadow> {
    let listener = TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let report = Arc::new(ShadowReport::default());
    let state = Arc::new(State {
        in_flight: Semaphore::new(opts.max_in_flight.max(1)),
        opts,
        report: report.clone(),
        client: exchange::http_client(),
        counter: AtomicU64::new(0),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        receive(&state, &req);
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(204)
                                .body(Full::new(Bytes::new()))
                                .expect("static response"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Shadow { addr, report, task })
}

/// Answer the mirror at once; compare in the background when safe, sampled and not busy.
fn receive(state: &Arc<State>, req: &hyper::Request<hyper::body::Incoming>) {
    let r = &state.report;
    r.received.fetch_add(1, Ordering::Relaxed);
    // nginx mirrors keep the method; X-Original-Method covers configs that rewrite it.
    let method = req
        .headers()
        .get("x-original-method")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(req.method().as_str())
        .to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    if !forwardable(&method, &path) {
        r.skipped_unsafe.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    if !n.is_multiple_of(state.opts.sample.max(1)) {
        r.skipped_sampling.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Ok(permit) = state.in_flight.try_acquire() else {
        r.skipped_busy.fetch_add(1, Ordering::Relaxed);
        return;
    };
    permit.forget();
    // Headers a page can depend on; never cookies or credentials.
    let headers: Vec<(String, String)> = [
        "accept",
        "accept-language",
        "x-requested-with",
        "user-agent",
    ]
    .iter()
    .filter_map(|h| {
        req.headers()
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(|v| (h.to_string(), v.to_string()))
    })
    .collect();
    let state = state.clone();
    tokio::spawn(async move {
        compare_pair(&state, &method, &path, &headers).await;
        state.in_flight.add_permits(1);
    });
}

async fn compare_pair(state: &State, method: &str, path: &str, headers: &[(String, String)]) {
    let now = chrono::Utc::now().timestamp();
    let head = method.eq_ignore_ascii_case("HEAD");
    let fetch = |base: String| {
        let client = state.client.clone();
        async move {
            let mut jar = Jar::new();
            exchange::send(&client, &base, &mut jar, method, path, headers, None).await
        }
    };
    let (p, s) = tokio::join!(
        fetch(state.opts.primary.clone()),
        fetch(state.opts.shadow.clone())
    );
    let (Ok(p), Ok(s)) = (p, s) else {
        state.report.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let doc = |sent: &exchange::Sent| {
        compare::expected_doc(&exchange::recorded_expect(sent, head, Value::Null, vec![]))
    };
    let options = CompareOptions {
        masks: LIVE_MASKS.iter().map(|m| m.to_string()).collect(),
        expected_clock: now,
        actual_clock: now,
        tolerance_s: 5,
        provision_calls_at_most: false,
    };
    let diffs = compare::compare(&doc(&p), &doc(&s), &options);
    let route = action_of(path).unwrap_or_default();
    let mut routes = lock(&state.report.routes);
    if !routes.contains_key(&route) && routes.len() >= MAX_ROUTES {
        return;
    }
    let stats = routes.entry(route.clone()).or_default();
    stats.compared += 1;
    if !diffs.is_empty() {
        stats.different += 1;
        if stats.examples.len() < EXAMPLES_PER_ROUTE {
            println!(
                "{}",
                compare::render(&format!("shadow {route} {path}"), &diffs)
            );
            stats.examples.push((path.to_string(), diffs));
        }
    }
}
