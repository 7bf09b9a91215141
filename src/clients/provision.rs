//! Client of the provision server (`provision_server.py`): `/provision`, `/suspend`,
//! `/activate`, with `X-API-Key` and `Idempotency-Key` as the original sends them.
//!
//! One call here is one HTTP attempt; retry policy belongs to the caller (register retries
//! three times inside its time bound, the worker retries with back-off).

use crate::domain::tenant::Provisioned;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::domain::php::php_json_encode;

/// What the original's curl call could end in.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// No HTTP answer: the curl-style message the original logged, e.g.
    /// `Failed to connect to 127.0.0.1 port 5566 after 0 ms: Couldn't connect to server`.
    Transport(String),
    /// An HTTP answer other than 200.
    Http { status: u16, body: String },
}

impl CallError {
    /// The text the original wrote into logs and `last_error`: curl's message or `HTTP <code>`.
    pub fn log_text(&self) -> String {
        match self {
            CallError::Transport(m) => m.clone(),
            CallError::Http { status, .. } => format!("HTTP {status}"),
        }
    }
}

/// The tenant facts sent to `/provision`, in the original's key order.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvisionPayload {
    pub name: String,
    pub domain: String,
    pub email: String,
    /// `web_widget` or `api` (the tenant's `channel_type`).
    pub kind: String,
    pub max_agents: i64,
}

impl ProvisionPayload {
    /// The JSON body exactly as PHP's `json_encode` wrote it.
    pub fn to_body(&self) -> String {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("domain".into(), Value::String(self.domain.clone()));
        m.insert("email".into(), Value::String(self.email.clone()));
        m.insert("type".into(), Value::String(self.kind.clone()));
        m.insert("max_agents".into(), Value::from(self.max_agents));
        php_json_encode(&Value::Object(m))
    }
}

/// `{"inbox_id": …, extra…}` in that order, as the original's `json_encode` wrote it.
fn inbox_body(inbox_id: Option<i64>, extra: &[(&str, &str)]) -> String {
    let mut m = Map::new();
    m.insert(
        "inbox_id".into(),
        inbox_id.map(Value::from).unwrap_or(Value::Null),
    );
    for (k, v) in extra {
        m.insert((*k).into(), Value::String((*v).into()));
    }
    php_json_encode(&Value::Object(m))
}

/// Result of one `/provision` attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum ProvisionResult {
    Provisioned(Provisioned),
    /// HTTP 200 whose body is not JSON with an `inbox_id` (the original: "响应无效").
    InvalidBody(String),
    Failed(CallError),
}

impl ProvisionResult {
    /// A failure the provision server itself answered. `provision_server.py` caches that
    /// answer under the `Idempotency-Key` for 300 s (from the third hit as
    /// `200 {"error": ...}`), so a retry must use a new key to be tried at all.
    pub fn is_answered_failure(&self) -> bool {
        match self {
            ProvisionResult::Failed(CallError::Http { .. }) => true,
            ProvisionResult::InvalidBody(body) => is_error_answer(body),
            ProvisionResult::Failed(CallError::Transport(_)) | ProvisionResult::Provisioned(_) => {
                false
            }
        }
    }

    /// No HTTP answer at all (refused, timed out, cut): the server may be down.
    pub fn is_unanswered(&self) -> bool {
        matches!(self, ProvisionResult::Failed(CallError::Transport(_)))
    }
}

/// `{"error": ...}`: the provision server's own failure body, whatever the status.
fn is_error_answer(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key("error")))
        .unwrap_or(false)
}

/// Read from the provision server's answer (its wire format; the type is the domain's).
impl Provisioned {
    /// The original accepts any JSON object that has an `inbox_id` key.
    pub fn from_body(body: &str) -> Option<Provisioned> {
        let v: Value = serde_json::from_str(body).ok()?;
        let o = v.as_object()?;
        if !o.contains_key("inbox_id") {
            return None;
        }
        let s = |k: &str| match o.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let i = |k: &str| match o.get(k) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Some(Provisioned {
            inbox_id: i("inbox_id"),
            inbox_token: s("inbox_token"),
            inbox_name: s("inbox_name"),
            team_id: i("team_id"),
            agent_cw_id: i("agent_cw_id"),
            agent_cw_password: s("agent_cw_password"),
            embed_code: s("embed_code"),
        })
    }
}

#[derive(Clone)]
pub struct ProvisionClient {
    http: reqwest::Client,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// Connect timeout the original gave curl on `/provision` from register.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl ProvisionClient {
    pub fn new() -> ProvisionClient {
        ProvisionClient::with_metrics(Default::default())
    }

    /// A client that counts its calls by outcome in `metrics`.
    pub fn with_metrics(metrics: std::sync::Arc<crate::metrics::Metrics>) -> ProvisionClient {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(4)
            .build()
            .unwrap_or_default();
        ProvisionClient { http, metrics }
    }

    /// One `POST {base}/provision` attempt, bounded by `timeout`.
    pub async fn provision(
        &self,
        base_url: &str,
        api_key: &str,
        idempotency_key: &str,
        payload: &ProvisionPayload,
        timeout: Duration,
    ) -> ProvisionResult {
        match self
            .post(
                base_url,
                "/provision",
                Some(api_key),
                Some(idempotency_key),
                payload.to_body(),
                timeout,
            )
            .await
        {
            Ok((200, body)) => match Provisioned::from_body(&body) {
                Some(p) => ProvisionResult::Provisioned(p),
                None => ProvisionResult::InvalidBody(body),
            },
            Ok((status, body)) => ProvisionResult::Failed(CallError::Http { status, body }),
            Err(e) => ProvisionResult::Failed(e),
        }
    }

    /// `POST {base}/suspend` with the original's body. Returns the raw answer body.
    pub async fn suspend(
        &self,
        base_url: &str,
        api_key: &str,
        inbox_id: Option<i64>,
        tenant_name: &str,
        domain: &str,
        timeout: Duration,
    ) -> Result<(u16, String), CallError> {
        let body = inbox_body(
            inbox_id,
            &[("tenant_name", tenant_name), ("domain", domain)],
        );
        self.post(base_url, "/suspend", Some(api_key), None, body, timeout)
            .await
    }

    /// `POST {base}/activate`. The original sent no API key (so it always failed); callers
    /// pass the configured one (COMPAT.md#activate-api-key).
    pub async fn activate(
        &self,
        base_url: &str,
        api_key: &str,
        inbox_id: Option<i64>,
        timeout: Duration,
    ) -> Result<(u16, String), CallError> {
        let body = inbox_body(inbox_id, &[]);
        self.post(base_url, "/activate", Some(api_key), None, body, timeout)
            .await
    }

    /// `GET {base}/health`.
    pub async fn health(
        &self,
        base_url: &str,
        timeout: Duration,
    ) -> Result<(u16, String), CallError> {
        let url = format!("{}/health", base_url.trim_end_matches('/'));
        let started = Instant::now();
        match self.http.get(&url).timeout(timeout).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                Ok((status, r.text().await.unwrap_or_default()))
            }
            Err(e) => Err(CallError::Transport(curl_message(
                &e,
                &url,
                started.elapsed(),
            ))),
        }
    }

    async fn post(
        &self,
        base_url: &str,
        path: &str,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        body: String,
        timeout: Duration,
    ) -> Result<(u16, String), CallError> {
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        let mut req = self
            .http
            .post(&url)
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(k) = api_key {
            req = req.header("X-API-Key", k);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let started = Instant::now();
        let result = self.send(req, &url, started).await;
        self.metrics.record_provision(match &result {
            Ok((200, _)) => "ok",
            Ok(_) => "http_error",
            Err(_) => "transport_error",
        });
        result
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
        started: Instant,
    ) -> Result<(u16, String), CallError> {
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Transport(curl_message(&e, url, started.elapsed())))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| CallError::Transport(curl_message(&e, url, started.elapsed())))?;
        Ok((status, text))
    }
}

impl Default for ProvisionClient {
    fn default() -> Self {
        ProvisionClient::new()
    }
}

/// curl's wording for the failures the original logged, so log rows read the same.
fn curl_message(e: &reqwest::Error, url: &str, elapsed: Duration) -> String {
    let ms = elapsed.as_millis();
    let (host, port) = host_port(url);
    if e.is_timeout() {
        format!("Operation timed out after {ms} milliseconds with 0 bytes received")
    } else if e.is_connect() {
        let text = format!("{e:?}");
        if text.contains("dns error") || text.contains("failed to lookup") {
            format!("Could not resolve host: {host}")
        } else {
            format!(
                "Failed to connect to {host} port {port} after {ms} ms: Couldn't connect to server"
            )
        }
    } else {
        "Recv failure: Connection reset by peer".to_string()
    }
}

fn host_port(url: &str) -> (String, u16) {
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map(|(_, a)| a)
        .unwrap_or(authority);
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse().unwrap_or(default_port),
        ),
        _ => (authority.to_string(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_encoded_like_php() {
        let p = ProvisionPayload {
            name: "Alice 商店/1".into(),
            domain: "alice2".into(),
            email: "alice@example.com".into(),
            kind: "web_widget".into(),
            max_agents: 2,
        };
        assert_eq!(
            p.to_body(),
            r#"{"name":"Alice \u5546\u5e97\/1","domain":"alice2","email":"alice@example.com","type":"web_widget","max_agents":2}"#
        );
    }

    #[test]
    fn only_json_with_an_inbox_id_counts_as_provisioned() {
        assert!(Provisioned::from_body(r#"{"inbox_id": 101, "embed_code": "<script>"}"#).is_some());
        assert!(Provisioned::from_body(r#"{"error": "x"}"#).is_none());
        assert!(Provisioned::from_body("<html>").is_none());
    }

    #[test]
    fn answered_failures_are_told_from_unknown_outcomes() {
        let http = ProvisionResult::Failed(CallError::Http {
            status: 502,
            body: String::new(),
        });
        assert!(http.is_answered_failure() && !http.is_unanswered());
        let cached = ProvisionResult::InvalidBody(r#"{"error": "Chatwoot API error: 500"}"#.into());
        assert!(cached.is_answered_failure());
        let html = ProvisionResult::InvalidBody("<html>502</html>".into());
        assert!(!html.is_answered_failure());
        let timeout = ProvisionResult::Failed(CallError::Transport("timed out".into()));
        assert!(!timeout.is_answered_failure() && timeout.is_unanswered());
    }

    #[test]
    fn host_and_port_for_curl_messages() {
        assert_eq!(
            host_port("http://127.0.0.1:5566/provision"),
            ("127.0.0.1".into(), 5566)
        );
        assert_eq!(host_port("http://CoPaw/provision"), ("CoPaw".into(), 80));
    }
}
