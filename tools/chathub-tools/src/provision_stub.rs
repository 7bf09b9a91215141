//! A stand-in provision server speaking the real `provision_server.py` contract
//! (`POST /provision`, `/suspend`, `/activate`, `GET /health`, `X-API-Key`,
//! `Idempotency-Key`), for `cargo dev`, the benchmark and the tests.
//!
//! It answers like the recorder's fake did, so golden fixtures replay exactly: the n-th new
//! provision gets inbox 100+n, team 200+n, agent 300+n, and bodies are serialised like
//! bottle's `json.dumps` (ASCII escapes, `", "` and `": "` separators).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the stub behaves, as the recorder's control endpoint offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubMode {
    Ok,
    /// 500 + `{"error": "Chatwoot API error: simulated internal failure"}`.
    Http500,
    /// 200 with an HTML body.
    BadJson,
    /// Accepts, never answers (closes after `hang_for`).
    Hang,
    /// Listening socket closed: connection refused.
    Down,
}

impl StubMode {
    pub fn parse(s: &str) -> Option<StubMode> {
        match s {
            "ok" => Some(StubMode::Ok),
            "http500" => Some(StubMode::Http500),
            "badjson" => Some(StubMode::BadJson),
            "hang" => Some(StubMode::Hang),
            "down" => Some(StubMode::Down),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StubMode::Ok => "ok",
            StubMode::Http500 => "http500",
            StubMode::BadJson => "badjson",
            StubMode::Hang => "hang",
            StubMode::Down => "down",
        }
    }
}

/// One request the stub received, with what it answered.
#[derive(Clone, Debug)]
pub struct StubCall {
    pub method: String,
    pub path: String,
    /// Request headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub mode: StubMode,
    /// `None` when the stub never answered (hang).
    pub response_status: Option<u16>,
    pub response_body: String,
}

impl StubCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct State {
    mode: StubMode,
    api_key: String,
    counter: u32,
    idempotency: HashMap<String, String>,
    calls: Vec<StubCall>,
    hang_for: Duration,
    /// Domains whose provisions fail as in [`StubMode::Http500`] whatever the mode.
    failing_domains: HashSet<String>,
    /// Cache answers per `Idempotency-Key` exactly as `provision_server.py` does, failures
    /// included (see [`ProvisionStub::cache_like_upstream`]).
    upstream_cache: bool,
    /// `/health` answers 503, as a provision server whose Chatwoot is down may.
    health_down: bool,
    /// key → (status still to restore on the next hit, body).
    upstream_results: HashMap<String, (Option<u16>, String)>,
}

pub struct ProvisionStub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ProvisionStub {
    /// Listen on `addr` (port 0 picks one). `api_key` is the only key accepted.
    pub async fn start(addr: SocketAddr, api_key: &str) -> std::io::Result<ProvisionStub> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            mode: StubMode::Ok,
            api_key: api_key.to_string(),
            counter: 0,
            idempotency: HashMap::new(),
            calls: Vec::new(),
            hang_for: Duration::from_secs(75),
            failing_domains: HashSet::new(),
            upstream_cache: false,
            health_down: false,
            upstream_results: HashMap::new(),
        }));
        let task = tokio::spawn(serve(listener, state.clone()));
        Ok(ProvisionStub {
            addr,
            state,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL to configure as `provision_server_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switch behaviour; `Down` closes the listening socket, leaving it re-opens it.
    pub async fn set_mode(&self, mode: StubMode) {
        let previous = std::mem::replace(&mut lock(&self.state).mode, mode);
        if mode == StubMode::Down && previous != StubMode::Down {
            let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(t) = task {
                t.abort();
                let _ = t.await;
            }
        } else if mode != StubMode::Down && previous == StubMode::Down {
            // Re-bind the same port; retry briefly in case the old socket lingers.
            for _ in 0..50 {
                if let Ok(listener) = TcpListener::bind(self.addr).await {
                    let task = tokio::spawn(serve(listener, self.state.clone()));
                    *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    pub fn mode(&self) -> StubMode {
        lock(&self.state).mode
    }

    /// How long a hanging request is held before the stub closes it.
    pub fn set_hang_for(&self, d: Duration) {
        lock(&self.state).hang_for = d;
    }

    /// Start numbering provisions from 1 again and forget idempotency keys (a new group).
    pub fn reset(&self) {
        let mut s = lock(&self.state);
        s.counter = 0;
        s.idempotency.clear();
        s.upstream_results.clear();
        s.calls.clear();
    }

    /// Provisions for these domains fail (500, as [`StubMode::Http500`]) in every mode but
    /// `Hang` and `Down`: a tenant the provision server keeps refusing.
    pub fn set_failing_domains(&self, domains: &[&str]) {
        lock(&self.state).failing_domains = domains.iter().map(|d| d.to_string()).collect();
    }

    /// Answer `/provision` as `provision_server.py` does with its idempotency store: after
    /// validation, a key seen before gets the stored answer, failures included; the stored
    /// status is restored on the first repeat only, so from the third use of a failed key
    /// the answer is `200 {"error": ...}`. (Entries live 300 s upstream; here until
    /// [`reset`](Self::reset).)
    pub fn cache_like_upstream(&self, on: bool) {
        lock(&self.state).upstream_cache = on;
    }

    /// Make `/health` answer 503 (`true`) or 200 again.
    pub fn set_health_down(&self, down: bool) {
        lock(&self.state).health_down = down;
    }

    pub fn calls(&self) -> Vec<StubCall> {
        lock(&self.state).calls.clone()
    }

    pub fn take_calls(&self) -> Vec<StubCall> {
        std::mem::take(&mut lock(&self.state).calls)
    }
}

impl Drop for ProvisionStub {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(state, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

type Resp = http::Response<Full<Bytes>>;

fn reply(status: u16, content_type: &'static str, body: String) -> Resp {
    let mut r = http::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

async fn answer(state: Arc<Mutex<State>>, req: http::Request<hyper::body::Incoming>) -> Resp {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());

    let (mode, hang_for) = {
        let s = lock(&state);
        (s.mode, s.hang_for)
    };
    let mut call = StubCall {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        body: body.clone(),
        mode,
        response_status: None,
        response_body: String::new(),
    };

    if mode == StubMode::Hang && path != "/health" {
        lock(&state).calls.push(call);
        tokio::time::sleep(hang_for).await;
        return reply(504, "text/plain", String::new());
    }

    let (status, content_type, out) = if method == "GET" && path == "/health" {
        if lock(&state).health_down {
            (
                503,
                "application/json",
                py_dumps(&[("status", Py::Str("unhealthy".into()))]),
            )
        } else {
            (
                200,
                "application/json",
                py_dumps(&[("status", Py::Str("ok".into()))]),
            )
        }
    } else if method != "POST" || !["/provision", "/suspend", "/activate"].contains(&path.as_str())
    {
        (404, "text/html; charset=UTF-8", "Not found".to_string())
    } else if header("x-api-key").as_deref() != Some(lock(&state).api_key.as_str()) {
        // bottle sends this string body with its default content type.
        (
            401,
            "text/html; charset=UTF-8",
            py_dumps(&[("error", Py::Str("Invalid or missing X-API-Key".into()))]),
        )
    } else if path == "/provision" && lock(&state).upstream_cache {
        upstream_provision(&state, &body, header("idempotency-key"), mode)
    } else if let Some(simulated) = simulated_answer(
        mode,
        path == "/provision" && fails_for_domain(&state, &body),
    ) {
        simulated
    } else {
        match path.as_str() {
            "/provision" => provision(&state, &body, header("idempotency-key")),
            _ => inbox_action(&path, &body),
        }
    };
    call.response_status = Some(status);
    call.response_body = out.clone();
    lock(&state).calls.push(call);
    reply(status, content_type, out)
}

fn fails_for_domain(state: &Mutex<State>, body: &str) -> bool {
    let domain = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("domain").and_then(|d| d.as_str()).map(str::to_string));
    domain.is_some_and(|d| lock(state).failing_domains.contains(d.trim()))
}

const SIMULATED_FAILURE: &str = "Chatwoot API error: simulated internal failure";

/// `provision_server.py`'s `/provision` around its idempotency store (see
/// [`ProvisionStub::cache_like_upstream`]).
/// The answer a failure mode makes instead of the real work: the 500 the stub's failure
/// switches ask for (`failing`: the whole server or this domain), or an HTML error page.
fn simulated_answer(mode: StubMode, failing: bool) -> Option<(u16, &'static str, String)> {
    if mode == StubMode::Http500 || failing {
        Some((
            500,
            "application/json",
            py_dumps(&[("error", Py::Str(SIMULATED_FAILURE.into()))]),
        ))
    } else if mode == StubMode::BadJson {
        Some((
            200,
            "text/html",
            "<html><body>502 Bad Gateway (upstream returned HTML, not JSON)</body></html>".into(),
        ))
    } else {
        None
    }
}

fn upstream_provision(
    state: &Mutex<State>,
    body: &str,
    key: Option<String>,
    mode: StubMode,
) -> (u16, &'static str, String) {
    // Validation first, uncached (upstream validates before looking at the key).
    let (status, ct, out) = provision_checks_only(body);
    if status != 200 {
        return (status, ct, out);
    }
    let key = key.filter(|k| !k.is_empty());
    if let Some(k) = &key
        && let Some((status, cached)) = lock(state).upstream_results.get_mut(k)
    {
        return (
            status.take().unwrap_or(200),
            "application/json",
            cached.clone(),
        );
    }
    let (status, ct, out) = simulated_answer(mode, fails_for_domain(state, body))
        .unwrap_or_else(|| provision(state, body, None));
    if let Some(k) = key {
        lock(state)
            .upstream_results
            .entry(k)
            .or_insert((Some(status), out.clone()));
    }
    (status, ct, out)
}

/// `/provision`'s input validation alone: 200 with an empty body when the input is valid.
fn provision_checks_only(body: &str) -> (u16, &'static str, String) {
    let Ok(serde_json::Value::Object(j)) = serde_json::from_str::<serde_json::Value>(body) else {
        return bad("invalid JSON body");
    };
    let s = |k: &str| {
        j.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let (name, domain, email) = (s("name"), s("domain"), s("email"));
    let kind = j
        .get("type")
        .and_then(|v| v.as_str())
        .unwrap_or("web_widget");
    if name.is_empty() {
        return bad("name is required");
    }
    if name.chars().count() > 100 {
        return bad("name too long (max 100 chars)");
    }
    if domain.is_empty() {
        return bad("domain is required");
    }
    if domain.chars().count() > 255 {
        return bad("domain too long (max 255 chars)");
    }
    if !email.contains('@') {
        return bad("valid email is required");
    }
    if kind != "web_widget" && kind != "api" {
        return bad("type must be 'web_widget' or 'api'");
    }
    (200, "application/json", String::new())
}

fn bad(msg: &str) -> (u16, &'static str, String) {
    (
        400,
        "application/json",
        py_dumps(&[("error", Py::Str(msg.into()))]),
    )
}

fn provision(state: &Mutex<State>, body: &str, key: Option<String>) -> (u16, &'static str, String) {
    if let Some(k) = &key
        && let Some(cached) = lock(state).idempotency.get(k)
    {
        return (200, "application/json", cached.clone());
    }
    let checked = provision_checks_only(body);
    if checked.0 != 200 {
        return checked;
    }
    let j: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let s = |k: &str| {
        j.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let (name, email) = (s("name"), s("email"));
    let n = {
        let mut st = lock(state);
        st.counter += 1;
        st.counter
    };
    let inbox = 100 + n;
    let md5 = |s: String| format!("{:x}", md5::compute(s.as_bytes()));
    let website_token = md5(format!("wt-{inbox}"))[..24].to_string();
    let embed = format!(
        "<script>\n  (function(d,t) {{\n    var g=d.createElement(t),s=d.getElementsByTagName(t)[0];\n    g.src=\"https://chatwoot.275763.xyz/packs/js/sdk.js\";\n    g.defer=1;g.async=1;\n    s.parentNode.insertBefore(g,s);\n    g.onload=function(){{\n      window.chatwootSettings={{\n        position:\"right\",\n        type:\"standard\",\n        launcherTitle:\"Chat\"\n      }};\n      window.chatwootSDK.run({{\n        websiteToken:\"{website_token}\",\n        baseUrl:\"https://chatwoot.275763.xyz\"\n      }});\n    }};\n  }})(document,\"script\");\n</script>"
    );
    let out = py_dumps(&[
        ("inbox_id", Py::Int(inbox as i64)),
        (
            "inbox_token",
            Py::Str(md5(format!("it-{inbox}"))[..24].to_string()),
        ),
        ("inbox_name", Py::Str(name.clone())),
        ("team_id", Py::Int(200 + n as i64)),
        ("team_name", Py::Str(format!("{name} 客服团队"))),
        ("agent_id", Py::Str(format!("chathub-{inbox}"))),
        ("agent_cw_id", Py::Int(300 + n as i64)),
        (
            "agent_cw_password",
            Py::Str(format!("Cw{}!", &md5(format!("pw-{email}-{inbox}"))[..12])),
        ),
        (
            "agent_dir",
            Py::Str(format!("/app/working/workspaces/chathub-{inbox}")),
        ),
        ("embed_code", Py::Str(embed)),
        ("ws_agent_updated", Py::Bool(true)),
    ]);
    if let Some(k) = key {
        lock(state).idempotency.insert(k, out.clone());
    }
    (200, "application/json", out)
}

fn inbox_action(path: &str, body: &str) -> (u16, &'static str, String) {
    let Ok(serde_json::Value::Object(j)) = serde_json::from_str::<serde_json::Value>(body) else {
        return bad("invalid JSON body");
    };
    let Some(inbox) = j.get("inbox_id").filter(|v| !v.is_null()) else {
        return bad("inbox_id is required");
    };
    let verb = if path == "/suspend" {
        "suspended"
    } else {
        "activated"
    };
    let id = inbox
        .as_i64()
        .map(|i| i.to_string())
        .unwrap_or_else(|| inbox.to_string());
    (
        200,
        "application/json",
        py_dumps(&[
            ("success", Py::Bool(true)),
            ("message", Py::Str(format!("Inbox {id} {verb}"))),
        ]),
    )
}

enum Py {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// Python's `json.dumps` with default arguments for a flat object.
fn py_dumps(pairs: &[(&str, Py)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&py_str(k));
        out.push_str(": ");
        match v {
            Py::Str(s) => out.push_str(&py_str(s)),
            Py::Int(n) => out.push_str(&n.to_string()),
            Py::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out.push('}');
    out
}

fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_serialised_like_bottle() {
        assert_eq!(
            py_dumps(&[
                ("success", Py::Bool(true)),
                ("message", Py::Str("Inbox 111 suspended".into()))
            ]),
            r#"{"success": true, "message": "Inbox 111 suspended"}"#
        );
        assert_eq!(py_str("客服"), r#""\u5ba2\u670d""#);
    }
}
