//! One HTTP exchange as a browser or webhook sender makes it: a cookie jar per logical client,
//! redirects not followed, and what came back recorded in the fixtures' `expect` shape.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::compare;

/// One client's cookies: name -> value.
pub type Jar = BTreeMap<String, String>;
/// Cookie jars per logical client (`anon`, `alice`, `admin`, ...).
pub type Jars = HashMap<String, Jar>;

/// What the server answered, header names lower-cased, body decoded lossily.
#[derive(Debug, Clone)]
pub struct Sent {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Redirects off (the Location is what we compare); long timeout for the hanging-provision case.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(90))
        .build()
        .expect("reqwest client with static settings")
}

pub fn apply_set_cookies(jar: &mut Jar, headers: &[(String, String)]) {
    for (k, v) in headers {
        if k != "set-cookie" {
            continue;
        }
        let (name, value) = compare::set_cookie_name_value(v);
        if compare::cookie_is_clearing(v, &value) {
            jar.remove(&name);
        } else {
            jar.insert(name, value);
        }
    }
}

/// Send one request to `base` (scheme://host:port, no trailing slash) with the client's cookies,
/// and keep the cookies it sets. The recording's `Host` header is not sent: the target's own
/// host must route the request (nginx `server_name`).
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    jar: &mut Jar,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Sent, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, format!("{}{path}", base.trim_end_matches('/')));
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("cookie") {
            continue;
        }
        req = req.header(k.as_str(), v.as_str());
    }
    if !jar.is_empty() {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        req = req.header("Cookie", cookie);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).to_string(),
            )
        })
        .collect();
    let body = resp
        .bytes()
        .await
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .map_err(|e| format!("reading body: {e}"))?;
    apply_set_cookies(jar, &headers);
    Ok(Sent {
        status,
        headers,
        body,
    })
}

/// A provision-stub call as the fixtures list it.
pub fn stub_call_json(c: &crate::provision_stub::StubCall) -> Value {
    let mut v = json!({
        "method": c.method,
        "path": c.path,
        "content_type": c.header("content-type"),
        "x_api_key": c.header("x-api-key"),
        "idempotency_key": c.header("idempotency-key"),
        "mode": c.mode.as_str(),
    });
    match c.json() {
        Some(j) => v["json"] = j,
        None => v["body"] = json!(c.body),
    }
    v
}

/// A fixture's `clock` ("2026-11-25 07:06:07+08:00") as Unix seconds.
pub fn clock_epoch(clock: &str) -> i64 {
    chrono::DateTime::parse_from_str(clock, "%Y-%m-%d %H:%M:%S%:z")
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// The recorded side of a fixture (`expect`) for what a server answered: the body kept whole
/// (`html` raw, `json` parsed, `text`, or `empty`), cookies by name, CORS headers, rows after
/// (`Null` when the recorder had no database) and provision calls.
pub fn recorded_expect(
    sent: &Sent,
    head_request: bool,
    db_after: Value,
    provision_calls: Vec<Value>,
) -> Value {
    let ct = sent.header("content-type").map(str::to_string);
    let ctl = ct.clone().unwrap_or_default().to_ascii_lowercase();
    let mut out = Map::new();
    out.insert("status".into(), json!(sent.status));
    out.insert("location".into(), json!(sent.header("location")));
    out.insert("content_type".into(), json!(ct));
    let cors: Map<String, Value> = sent
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("access-control-allow-"))
        .map(|(k, v)| (compare::canonical_header(k), Value::String(v.clone())))
        .collect();
    out.insert("cors".into(), Value::Object(cors));
    let (mut set, mut cleared) = (Vec::new(), Vec::new());
    for (k, v) in &sent.headers {
        if k != "set-cookie" {
            continue;
        }
        let (name, value) = compare::set_cookie_name_value(v);
        if compare::cookie_is_clearing(v, &value) {
            cleared.push(name);
        } else {
            set.push(name);
        }
    }
    out.insert("cookies".into(), json!({"set": set, "cleared": cleared}));
    let body = &sent.body;
    if body.is_empty() || head_request {
        out.insert("empty".into(), json!(true));
    } else if ctl.contains("application/json") {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => out.insert("json".into(), v),
            Err(_) => out.insert("text".into(), json!(body)),
        };
    } else if ctl.contains("text/plain") {
        out.insert("text".into(), json!(body));
    } else if body.trim_start().starts_with('<') {
        out.insert("html".into(), json!(body));
    } else {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => out.insert("json".into(), v),
            Err(_) => out.insert("text".into(), json!(body)),
        };
    }
    out.insert("db_after".into(), db_after);
    out.insert("provision_calls".into(), Value::Array(provision_calls));
    Value::Object(out)
}

/// The member sign-in a withheld recording left behind (`actions_before: login`): `true`
/// when the site answered the sign-in with its redirect.
pub async fn member_login(
    client: &reqwest::Client,
    base: &str,
    jar: &mut Jar,
    email: &str,
    password: &str,
) -> bool {
    let body =
        serde_urlencoded::to_string([("email", email), ("password", password)]).unwrap_or_default();
    let form = [(
        "Content-Type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    let r = send(
        client,
        base,
        jar,
        "POST",
        "/addons/chathub/index/doLogin",
        &form,
        Some(&body),
    )
    .await;
    matches!(&r, Ok(s) if s.status == 302)
}
