//! Request parsing and response building shared by every handler.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;

use crate::config::IpNet;
use crate::domain::php::Params;
use crate::error::AppError;
use crate::web::routing::Route;

pub type Response = http::Response<Full<Bytes>>;

/// One incoming request, already read and bounded.
pub struct Request {
    pub id: String,
    pub method: Method,
    pub path: String,
    pub query_string: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
    /// Client address, from `X-Forwarded-For` only when the peer is a trusted proxy.
    pub client_ip: IpAddr,
    /// Whether the client reached us over HTTPS (`X-Forwarded-Proto` from a trusted proxy).
    pub https: bool,
    pub route: Route,
    query: Params,
    /// The member cookie's contents, unsealed on first use (`Sessions::read`).
    pub(crate) session: std::sync::OnceLock<Option<crate::services::sessions::SessionData>>,
}

impl Request {
    pub fn new(
        id: String,
        parts: http::request::Parts,
        body: Bytes,
        peer: SocketAddr,
        trusted: &[IpNet],
        route: Route,
    ) -> Result<Request, AppError> {
        let query_string = parts.uri.query().unwrap_or("").to_string();
        let query = Params::parse_query(query_string.as_bytes())?;
        let from_proxy = trusted.iter().any(|n| n.contains(peer.ip()));
        let mut client_ip = peer.ip();
        let mut https = false;
        if from_proxy {
            if let Some(xff) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
            {
                // The right-most address not belonging to a trusted proxy is the client.
                for cand in xff.rsplit(',').map(str::trim) {
                    match cand.parse::<IpAddr>() {
                        Ok(ip) if trusted.iter().any(|n| n.contains(ip)) => client_ip = ip,
                        Ok(ip) => {
                            client_ip = ip;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            https = parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        }
        Ok(Request {
            id,
            method: parts.method,
            path: parts.uri.path().to_string(),
            query_string,
            headers: parts.headers,
            body,
            peer,
            client_ip,
            https,
            route,
            query,
            session: std::sync::OnceLock::new(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `$_GET`.
    pub fn query(&self) -> &Params {
        &self.query
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// ThinkPHP's `isAjax()`: `X-Requested-With: XMLHttpRequest`.
    pub fn is_ajax(&self) -> bool {
        self.header("x-requested-with")
            .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"))
    }

    pub fn is_post(&self) -> bool {
        self.method == Method::POST
    }

    /// Body as JSON when it parses as a JSON object.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        if self.body.is_empty() {
            return None;
        }
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .filter(|v| v.is_object())
    }

    /// ThinkPHP's `post()`: the form body, or the JSON body when the content type says JSON
    /// (the original's doLogin accepts JSON bodies that way).
    pub fn post(&self) -> Result<Params, AppError> {
        if self.body.is_empty() {
            return Ok(Params::default());
        }
        if self.content_type().to_ascii_lowercase().contains("json") {
            if std::str::from_utf8(&self.body).is_err() {
                return Err(AppError::BadRequest("请求参数不是有效的 UTF-8"));
            }
            return Ok(self
                .json_body()
                .and_then(|v| Params::from_json(&v))
                .unwrap_or_default());
        }
        if self
            .content_type()
            .to_ascii_lowercase()
            .starts_with("multipart/")
        {
            return Err(AppError::BadRequest("不支持的请求格式"));
        }
        Params::parse_urlencoded(&self.body)
    }

    /// ThinkPHP's `param()`: PATHINFO pairs win over the body, the body over the query.
    pub fn param(&self, key: &str) -> Result<Option<String>, AppError> {
        if let Route::Action { path_params, .. } = &self.route
            && let Some((_, v)) = path_params.iter().rev().find(|(k, _)| k == key)
        {
            return Ok(Some(v.clone()));
        }
        if let Some(v) = self.post()?.get(key) {
            return Ok(Some(v.to_string()));
        }
        Ok(self.query.get(key).map(str::to_string))
    }

    /// Path the user asked for, with query, as FastAdmin's login jump URL encodes it.
    pub fn path_and_query(&self) -> String {
        if self.query_string.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query_string)
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        for value in self.headers.get_all(header::COOKIE) {
            let Ok(s) = value.to_str() else { continue };
            for part in s.split(';') {
                if let Some((k, v)) = part.trim().split_once('=')
                    && k == name
                {
                    return Some(v.to_string());
                }
            }
        }
        None
    }
}

/// Every answer is built here, so every answer carries the browser-hardening headers: no
/// content sniffing, no framing by other sites (FastAdmin's own admin panel, same origin,
/// still shows the admin pages in its tabs), and no full URLs leaking to other sites in
/// `Referer` (COMPAT.md#security-headers).
fn build(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut r = http::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    set_headers(
        r.headers_mut(),
        &[
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'self'"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
    );
    r
}

/// Set (replace) each header to a value fixed at compile time.
pub fn set_headers(h: &mut http::HeaderMap, headers: &[(header::HeaderName, &'static str)]) {
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// A page as the original's `render()` sends it.
/// What an HTML answer carries: a page (`Markup`) or text we wrote ourselves.
pub trait HtmlBody {
    fn into_bytes(self) -> Bytes;
}

impl HtmlBody for maud::Markup {
    fn into_bytes(self) -> Bytes {
        self.into_string().into()
    }
}

impl HtmlBody for String {
    fn into_bytes(self) -> Bytes {
        self.into()
    }
}

/// A page rendered earlier (`services::app::RenderCache`).
impl HtmlBody for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl HtmlBody for &'static str {
    fn into_bytes(self) -> Bytes {
        self.into()
    }
}

pub fn html(body: impl HtmlBody) -> Response {
    build(
        StatusCode::OK,
        "text/html; charset=utf-8",
        body.into_bytes(),
    )
}

pub fn html_status(status: StatusCode, body: impl HtmlBody) -> Response {
    build(status, "text/html; charset=utf-8", body.into_bytes())
}

/// `header('Location: …'); exit;` — PHP's default content type rides along.
pub fn redirect(location: &str) -> Response {
    let mut r = build(StatusCode::FOUND, "text/html; charset=UTF-8", Bytes::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub fn json(body: impl Into<Bytes>) -> Response {
    build(StatusCode::OK, "application/json; charset=utf-8", body)
}

pub fn text(body: impl Into<Bytes>) -> Response {
    build(StatusCode::OK, "text/plain; charset=utf-8", body)
}

/// `exit('…')` in the original: a bare string with PHP's default content type.
pub fn php_exit(body: impl HtmlBody) -> Response {
    build(
        StatusCode::OK,
        "text/html; charset=UTF-8",
        body.into_bytes(),
    )
}
