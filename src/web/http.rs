//! Request parsing and response building shared by every handler.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;

use crate::config::IpNet;
use crate::error::AppError;
use crate::web::routing::Route;

pub type Response = http::Response<Full<Bytes>>;

/// PHP's `max_input_vars` at its default: how many variables PHP reads from one source
/// (`$_GET`, `$_POST`) before it warns "Input variables exceeded 1000" and ignores the rest
/// of that source. Its two parsers differ by one: the query-string parser stops before
/// registering the 1001st piece, the form-body parser registers the 1001st and then stops, so
/// a query keeps 1000 pieces and a form body 1001. Pieces without a name count but make no
/// variable. JSON bodies (ThinkPHP's `json_decode`) are not limited, as in the original. One
/// request therefore never costs more than a bounded number of pairs, whatever its size.
pub const MAX_INPUT_VARS: usize = 1000;

/// Request parameters in arrival order. Lookups are last-wins, as PHP's `$_GET`/`$_POST`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Value trimmed; empty counts as missing (PHP's `!$x` on strings, except "0").
    pub fn get_trimmed(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// PHP form arrays: `row[tenant_name]=x` → `("tenant_name", "x")`, first-seen order, a
    /// repeated key keeps its last value and moves to where it was last seen (PHP's array
    /// assignment). One pass: the input may hold up to [`MAX_INPUT_VARS`] pairs.
    pub fn array(&self, name: &str) -> Vec<(String, String)> {
        let prefix = format!("{name}[");
        let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let inner: Vec<(usize, &str)> = self
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, (k, _))| {
                let inner = k.strip_prefix(&prefix)?.strip_suffix(']')?;
                last.insert(inner, i);
                Some((i, inner))
            })
            .collect();
        inner
            .into_iter()
            .filter(|(i, inner)| last.get(inner) == Some(i))
            .map(|(i, inner)| (inner.to_string(), self.0[i].1.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parameters from literal pairs (tests and internal callers).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Parse an `application/x-www-form-urlencoded` body as PHP fills `$_POST`, up to
    /// [`MAX_INPUT_VARS`] (see there). Invalid UTF-8 in a kept pair is a 400.
    pub fn parse_urlencoded(raw: &[u8]) -> Result<Params, AppError> {
        // Every `&`-separated piece counts, empty ones too, except an empty last piece; the
        // piece that passes the limit is still kept.
        let mut pieces: Vec<&[u8]> = raw.split(|b| *b == b'&').collect();
        if pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        pieces.truncate(MAX_INPUT_VARS + 1);
        Self::decode_pairs(pieces)
    }

    /// Parse a query string as PHP fills `$_GET`, up to [`MAX_INPUT_VARS`] (see there).
    pub fn parse_query(raw: &[u8]) -> Result<Params, AppError> {
        // Empty pieces are skipped before counting; the piece that passes the limit is not kept.
        let pieces = raw
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .take(MAX_INPUT_VARS);
        Self::decode_pairs(pieces)
    }

    fn decode_pairs<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Result<Params, AppError> {
        let mut out = Vec::new();
        for part in pieces {
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            if k.is_empty() {
                // PHP registers no variable without a name (it still counted towards the limit).
                continue;
            }
            let k = decode_component(k)?;
            let v = decode_component(v)?;
            out.push((k, v));
        }
        Ok(Params(out))
    }

    /// A JSON object body, flattened the way PHP arrays would be read: scalars as strings,
    /// one level of nested objects as `key[inner]`.
    pub fn from_json(value: &serde_json::Value) -> Option<Params> {
        let obj = value.as_object()?;
        let mut out = Vec::new();
        for (k, v) in obj {
            match v {
                serde_json::Value::Object(inner) => {
                    for (ik, iv) in inner {
                        if let Some(s) = json_scalar(iv) {
                            out.push((format!("{k}[{ik}]"), s));
                        }
                    }
                }
                other => {
                    if let Some(s) = json_scalar(other) {
                        out.push((k.clone(), s));
                    }
                }
            }
        }
        Some(Params(out))
    }
}

fn json_scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(if *b { "1".into() } else { String::new() }),
        serde_json::Value::Null => None,
        _ => None,
    }
}

fn decode_component(raw: &[u8]) -> Result<String, AppError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = raw.get(i + 1).and_then(|b| (*b as char).to_digit(16));
                let l = raw.get(i + 2).and_then(|b| (*b as char).to_digit(16));
                match (h, l) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| AppError::BadRequest("请求参数不是有效的 UTF-8"))
}

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

/// PHP's `htmlspecialchars()` (PHP 8 defaults: `& < > " '`), for pages that must match the
/// original byte for byte where it escaped. maud's own escaping covers the rest.
pub fn php_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// PHP's `urlencode()`: spaces as `+`, everything but `[A-Za-z0-9_.-]` percent-encoded.
pub fn php_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// PHP's `rawurlencode()`-style encoding (`%20` for space, `~` kept).
pub fn php_rawurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
pub fn html(body: impl Into<Bytes>) -> Response {
    build(StatusCode::OK, "text/html; charset=utf-8", body)
}

pub fn html_status(status: StatusCode, body: impl Into<Bytes>) -> Response {
    build(status, "text/html; charset=utf-8", body)
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
pub fn php_exit(body: impl Into<Bytes>) -> Response {
    build(StatusCode::OK, "text/html; charset=UTF-8", body)
}

/// JSON the way PHP's `json_encode()` writes it by default: `\uXXXX` for non-ASCII and
/// escaped slashes.
pub fn php_json_encode(value: &serde_json::Value) -> String {
    let s = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if (c as u32) > 0x7f => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// JSON as PHP writes it with `JSON_UNESCAPED_UNICODE` (ThinkPHP's `json()` response):
/// slashes escaped, non-ASCII kept.
pub fn php_json_unescaped_unicode(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('/', "\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_form_arrays_are_read() {
        let p = Params::parse_urlencoded(b"row%5Btenant_name%5D=Acme+Co&row[domain]=acme&ids=1")
            .unwrap();
        assert_eq!(
            p.array("row"),
            vec![
                ("tenant_name".into(), "Acme Co".into()),
                ("domain".into(), "acme".into())
            ]
        );
        assert_eq!(p.get("ids"), Some("1"));
    }

    #[test]
    fn form_arrays_keep_the_last_value_of_a_repeated_key() {
        let p = Params::parse_urlencoded(b"row[a]=1&row[b]=2&row[a]=3&other[a]=9").unwrap();
        assert_eq!(
            p.array("row"),
            vec![("b".into(), "2".into()), ("a".into(), "3".into())]
        );
    }

    #[test]
    fn inputs_stop_at_max_input_vars_as_php_does() {
        let many: Vec<String> = (0..5000).map(|i| format!("k{i}=v{i}")).collect();
        let raw = many.join("&");
        let form = Params::parse_urlencoded(raw.as_bytes()).unwrap();
        assert_eq!(form.0.len(), MAX_INPUT_VARS + 1);
        assert_eq!(form.get("k1000"), Some("v1000"));
        assert_eq!(form.get("k1001"), None);
        let query = Params::parse_query(raw.as_bytes()).unwrap();
        assert_eq!(query.0.len(), MAX_INPUT_VARS);
        assert_eq!(query.get("k999"), Some("v999"));
        assert_eq!(query.get("k1000"), None);
        // Empty pieces count in a form body (not in a query); what lies past the limit is not
        // even decoded, so invalid UTF-8 there is not an error.
        let raw = format!("{}&k=%FF", "&".repeat(2000));
        assert!(Params::parse_urlencoded(raw.as_bytes()).unwrap().is_empty());
        assert!(Params::parse_query(raw.as_bytes()).is_err());
        assert!(
            Params::parse_urlencoded(b"=x&a=1")
                .unwrap()
                .get("")
                .is_none()
        );
    }

    #[test]
    fn invalid_utf8_in_a_form_is_rejected() {
        assert!(Params::parse_urlencoded(b"email=%FF%FE").is_err());
        assert!(Params::parse_urlencoded(b"email=\xff").is_err());
    }

    #[test]
    fn stray_percent_signs_are_kept() {
        let p = Params::parse_urlencoded(b"a=100%&b=%zz").unwrap();
        assert_eq!(p.get("a"), Some("100%"));
        assert_eq!(p.get("b"), Some("%zz"));
    }

    #[test]
    fn php_escaping_and_encoding_match_php() {
        assert_eq!(
            php_escape(r#"<b>"Co" & 'x'"#),
            "&lt;b&gt;&quot;Co&quot; &amp; &#039;x&#039;"
        );
        assert_eq!(php_urlencode("邮箱 a"), "%E9%82%AE%E7%AE%B1+a");
        assert_eq!(
            php_json_encode(&serde_json::json!({"msg": "注册成功", "u": "a/b"})),
            r#"{"msg":"\u6ce8\u518c\u6210\u529f","u":"a\/b"}"#
        );
    }

    #[test]
    fn json_bodies_flatten_like_php_arrays() {
        let p = Params::from_json(
            &serde_json::json!({"email": "a@b.c", "seats": 2, "row": {"x": "1"}, "n": null}),
        )
        .unwrap();
        assert_eq!(p.get("seats"), Some("2"));
        assert_eq!(p.get("row[x]"), Some("1"));
        assert_eq!(p.get("n"), None);
    }
}
