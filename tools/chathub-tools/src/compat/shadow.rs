//! `cargo compat shadow`: receives nginx `mirror` copies of live requests, replays the public
//! GETs to the primary (old) and shadow (new) sites without cookies, and reports per route
//! where the two answers differ, compared like `compat diff`.
//!
//! Safe next to production: only GET/HEAD on actions that do not write are forwarded (never a
//! POST, never an action that changes rows such as renew or payReturn); with `member_cookies`
//! the member's session cookie (`PHPSESSID`, `chathub_session`, nothing else) is replayed to both
//! sites so signed-in pages are compared too, otherwise no cookie travels. Requests are sampled
//! and bounded in flight; an example is kept only when it shows a difference not seen before,
//! and each report prints only the examples that are new since the previous one.
//!
//! The nginx side (PHP-FPM keeps serving users; the server block mirrors every request here
//! and only the addon's spellings are compared) is in README "Shadow the live traffic".

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
/// Bounds memory on a route that keeps producing new differences (a random value unmasked).
const MAX_EXAMPLES_PER_ROUTE: usize = 50;
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
    /// Replay the member's session cookie to both sites (signed-in GETs compared too).
    pub member_cookies: bool,
}

/// The cookies that carry a member's session on either side; nothing else is ever replayed.
const SESSION_COOKIES: &[&str] = &["PHPSESSID", compare::SESSION_COOKIE];

#[derive(Debug, Default, Clone)]
pub struct RouteStats {
    pub compared: u64,
    pub different: u64,
    /// (request path, differences) of pairs that showed a difference not seen before.
    pub examples: Vec<(String, Vec<Difference>)>,
    /// Every distinct (field, old, new) seen on this route.
    seen: std::collections::BTreeSet<(String, String, String)>,
    /// How many examples earlier reports printed.
    reported: usize,
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

    /// Counts per route, then only the examples no earlier report printed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (route, s) in lock(&self.routes).iter_mut() {
            out.push_str(&format!(
                "route {route}: {} compared, {} different\n",
                s.compared, s.different
            ));
            for (path, diffs) in &s.examples[s.reported..] {
                out.push_str(&format!("  new difference on {path}\n"));
                for d in diffs {
                    out.push_str(&format!(
                        "    {}: old {:?} new {:?}\n",
                        d.path, d.expected, d.actual
                    ));
                }
            }
            s.reported = s.examples.len();
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

static ADDON_PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?:^|/)addons/_*chathub_*(?:/|$|\.html$)(.*)").expect("static regex")
});

/// The addon action a request names in any spelling ThinkPHP dispatches to the addon
/// (COMPAT.md#thinkphp-s-form): `/addons/chathub/index/registerPage.html?x`, `index.php/` or the
/// admin entry in front, `|` separators, `_chathub_`, or `?s=` on any path (the last `s` wins).
/// `index` for the controller's root; `None` outside the addon.
pub fn action_of(path: &str) -> Option<String> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let target = match pairs.iter().rev().find(|(k, _)| k.trim() == "s") {
        Some((_, s)) => s.clone(),
        None => path.to_string(),
    };
    let lower = target.to_ascii_lowercase().replace('|', "/");
    let rest = ADDON_PATH.captures(&lower)?.get(1)?.as_str().to_string();
    let rest = rest.trim_matches('/');
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
    let cookie = if state.opts.member_cookies {
        session_cookie(req.headers())
    } else {
        None
    };
    // Headers a page can depend on; never credentials (the session cookie only as above).
    let mut headers: Vec<(String, String)> = [
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
    let signed_in = cookie.is_some();
    headers.extend(cookie.map(|c| ("cookie".to_string(), c)));
    let state = state.clone();
    tokio::spawn(async move {
        compare_pair(&state, &method, &path, &headers, signed_in).await;
        state.in_flight.add_permits(1);
    });
}

/// The member's session cookies of a request, as one `Cookie` header.
fn session_cookie(h: &hyper::HeaderMap) -> Option<String> {
    let pairs: Vec<String> = h
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| {
            c.split_once('=')
                .is_some_and(|(n, v)| SESSION_COOKIES.contains(&n.trim()) && !v.is_empty())
        })
        .map(str::to_string)
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

async fn compare_pair(
    state: &State,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    signed_in: bool,
) {
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
    let mut route = action_of(path).unwrap_or_default();
    if signed_in {
        route.push_str(" (signed in)");
    }
    let mut routes = lock(&state.report.routes);
    if !routes.contains_key(&route) && routes.len() >= MAX_ROUTES {
        return;
    }
    let stats = routes.entry(route.clone()).or_default();
    stats.compared += 1;
    if diffs.is_empty() {
        return;
    }
    stats.different += 1;
    let mut new = false;
    for d in &diffs {
        new |= stats
            .seen
            .insert((d.path.clone(), d.expected.clone(), d.actual.clone()));
    }
    if new && stats.examples.len() < MAX_EXAMPLES_PER_ROUTE {
        stats.examples.push((path.to_string(), diffs));
    }
}
