//! Member sessions in a signed and encrypted cookie, so a restart loses nobody's session.
//!
//! The original kept `chathub_user_id/email/nick` in PHP's session; we keep the same three
//! facts (plus a CSRF token and bookkeeping) in our own cookie. FastAdmin's `PHPSESSID` and
//! `keeplogin` are never touched: they belong to the admin panel.

use cookie::{Cookie, CookieJar, Key, SameSite};
use http::{HeaderValue, header};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::web::http::{Request, Response};

pub const COOKIE_NAME: &str = "chathub_session";

/// PHP's default `session.gc_maxlifetime`: a session idle longer than this is over.
pub const IDLE_LIFETIME_SECS: i64 = 1440;

/// Re-issue the cookie at most this often, so `seen` stays fresh without a `Set-Cookie` on
/// every response.
const REFRESH_AFTER_SECS: i64 = 300;

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionData {
    /// Signed-in member (`fa_user.id`); `None` for an anonymous session that only carries a
    /// CSRF token.
    pub uid: Option<u32>,
    pub email: String,
    pub nick: String,
    /// Per-session token for forms and state-changing links.
    pub csrf: String,
    /// When the session was created (Unix seconds).
    pub iat: i64,
    /// Last time the cookie was issued (Unix seconds).
    pub seen: i64,
    /// Fingerprint of the password hash at sign-in: a password change elsewhere ends this
    /// session.
    pub pwfp: String,
    /// Random id of a signed-in session, so logout can revoke exactly this one in the
    /// database. Empty for anonymous sessions and for cookies issued before sessions had one
    /// (those no longer sign anyone in).
    #[serde(default)]
    pub sid: String,
}

/// The CSRF token, session id and password fingerprint never reach logs.
impl std::fmt::Debug for SessionData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionData")
            .field("uid", &self.uid)
            .field("email", &self.email)
            .field("nick", &self.nick)
            .field("csrf", &"<redacted>")
            .field("iat", &self.iat)
            .field("seen", &self.seen)
            .field("pwfp", &"<redacted>")
            .field("sid", &"<redacted>")
            .finish()
    }
}

impl SessionData {
    pub fn anonymous(now: i64) -> SessionData {
        SessionData {
            uid: None,
            email: String::new(),
            nick: String::new(),
            csrf: new_token(),
            iat: now,
            seen: now,
            pwfp: String::new(),
            sid: String::new(),
        }
    }

    pub fn signed_in(
        uid: u32,
        email: &str,
        nick: &str,
        password_hash: &str,
        now: i64,
    ) -> SessionData {
        SessionData {
            uid: Some(uid),
            email: email.to_string(),
            nick: nick.to_string(),
            csrf: new_token(),
            iat: now,
            seen: now,
            pwfp: password_fingerprint(password_hash),
            sid: new_token(),
        }
    }

    /// What the revocation table stores for this session (never the id itself).
    pub fn sid_digest(&self) -> String {
        hex::encode(sha2::Sha256::digest(self.sid.as_bytes()))
    }

    pub fn needs_refresh(&self, now: i64) -> bool {
        now - self.seen >= REFRESH_AFTER_SECS
    }

    /// Constant-time comparison of a submitted CSRF token.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        let a = self.csrf.as_bytes();
        let b = submitted.as_bytes();
        bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
    }
}

pub fn password_fingerprint(hash: &str) -> String {
    let d = sha2::Sha256::digest(hash.as_bytes());
    hex::encode(&d[..8])
}

fn new_token() -> String {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    hex::encode(bytes)
}

/// Encrypts, authenticates and reads the session cookie.
#[derive(Clone)]
pub struct Sessions {
    key: Key,
}

impl Sessions {
    pub fn new(secret: &str) -> Sessions {
        // Key::from wants 64 bytes of key material; hash the configured secret to them.
        let master = sha2::Sha512::digest(secret.as_bytes());
        Sessions {
            key: Key::from(&master[..]),
        }
    }

    /// The session carried by the request, if its cookie decrypts and is not idle too long.
    pub fn read(&self, req: &Request, now: i64) -> Option<SessionData> {
        let raw = req.cookie(COOKIE_NAME)?;
        // The value was percent-encoded when set (`encoded()`); decode before opening it.
        let parsed = Cookie::parse_encoded(format!("{COOKIE_NAME}={raw}")).ok()?;
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(COOKIE_NAME, parsed.value().to_string()));
        let plain = jar.private(&self.key).get(COOKIE_NAME)?;
        let data: SessionData = serde_json::from_str(plain.value()).ok()?;
        if now - data.seen > IDLE_LIFETIME_SECS || data.seen > now + 60 {
            return None;
        }
        Some(data)
    }

    /// `Set-Cookie` value carrying `data`. A browser-session cookie, as PHP's.
    pub fn set_cookie(&self, data: &SessionData, secure: bool) -> HeaderValue {
        let json = serde_json::to_string(data).unwrap_or_default();
        let mut jar = CookieJar::new();
        let mut c = Cookie::new(COOKIE_NAME, json);
        c.set_path("/");
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_secure(secure);
        jar.private_mut(&self.key).add(c);
        let enc = jar
            .get(COOKIE_NAME)
            .map(|c| c.encoded().to_string())
            .unwrap_or_default();
        HeaderValue::from_str(&enc).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self, secure: bool) -> HeaderValue {
        let s = format!(
            "{COOKIE_NAME}=deleted; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; SameSite=Lax{}",
            if secure { "; Secure" } else { "" }
        );
        HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl Sessions {
    /// Sliding idle expiry: when the request carried a live session that has not been
    /// re-issued for a while, send it back with a fresh `seen`, unless the handler already
    /// set or cleared the cookie (sign-in, sign-out, password change).
    pub fn refresh(&self, req: &Request, now: i64, mut resp: Response) -> Response {
        if sets_session_cookie(&resp) {
            return resp;
        }
        if let Some(mut data) = self.read(req, now)
            && data.needs_refresh(now)
        {
            data.seen = now;
            resp.headers_mut()
                .append(header::SET_COOKIE, self.set_cookie(&data, req.https));
        }
        resp
    }

    /// `resp` carrying `data` as the new session.
    pub fn with_session(&self, mut resp: Response, data: &SessionData, secure: bool) -> Response {
        resp.headers_mut()
            .append(header::SET_COOKIE, self.set_cookie(data, secure));
        resp
    }

    /// `resp` removing the session cookie.
    pub fn without_session(&self, mut resp: Response, secure: bool) -> Response {
        resp.headers_mut()
            .append(header::SET_COOKIE, self.clear_cookie(secure));
        resp
    }
}

fn sets_session_cookie(resp: &Response) -> bool {
    let prefix = format!("{COOKIE_NAME}=");
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
}

/// The cache headers PHP sends whenever a session is active: member pages hold private
/// data and must never be stored by a browser or proxy cache.
pub fn no_store(mut resp: Response) -> Response {
    crate::web::http::set_headers(
        resp.headers_mut(),
        &[
            (header::EXPIRES, "Thu, 19 Nov 1981 08:52:00 GMT"),
            (header::CACHE_CONTROL, "no-store, no-cache, must-revalidate"),
            (header::PRAGMA, "no-cache"),
        ],
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_cookie(cookie: Option<&str>) -> Request {
        let mut b = http::Request::builder().uri("/addons/chathub/index/my");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let (parts, _) = b.body(()).unwrap().into_parts();
        Request::new(
            "t".into(),
            parts,
            bytes::Bytes::new(),
            "127.0.0.1:1".parse().unwrap(),
            &[],
            crate::web::routing::Route::NotFound,
        )
        .unwrap()
    }

    fn cookie_pair(v: &HeaderValue) -> String {
        v.to_str().unwrap().split(';').next().unwrap().to_string()
    }

    #[test]
    fn a_cookie_round_trips_and_tampering_is_rejected() {
        let s = Sessions::new("k1-0123456789abcdef0123456789abcdef");
        let data = SessionData::signed_in(7, "a@b.c", "Nick", "hash", 1000);
        let pair = cookie_pair(&s.set_cookie(&data, false));
        let got = s.read(&request_with_cookie(Some(&pair)), 1001).unwrap();
        assert_eq!(got, data);

        // Flip one character of the sealed value.
        let (name, value) = pair.split_once('=').unwrap();
        let mut bytes = value.as_bytes().to_vec();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged = format!("{name}={}", String::from_utf8(bytes).unwrap());
        assert!(s.read(&request_with_cookie(Some(&forged)), 1001).is_none());

        // Another server secret cannot read it.
        let other = Sessions::new("k2-0123456789abcdef0123456789abcdef");
        assert!(
            other
                .read(&request_with_cookie(Some(&pair)), 1001)
                .is_none()
        );
        assert!(
            s.read(&request_with_cookie(Some("chathub_session=%%%")), 1001)
                .is_none()
        );
        assert!(s.read(&request_with_cookie(None), 1001).is_none());
    }

    #[test]
    fn idle_sessions_expire_and_live_ones_are_refreshed() {
        let s = Sessions::new("k1-0123456789abcdef0123456789abcdef");
        let data = SessionData::signed_in(7, "a@b.c", "Nick", "hash", 1000);
        let pair = cookie_pair(&s.set_cookie(&data, true));
        let req = request_with_cookie(Some(&pair));
        assert!(s.read(&req, 1000 + IDLE_LIFETIME_SECS + 1).is_none());

        let fresh = s.refresh(&req, 1010, crate::web::http::html("x"));
        assert!(fresh.headers().get(header::SET_COOKIE).is_none());
        let later = s.refresh(&req, 1000 + REFRESH_AFTER_SECS, crate::web::http::html("x"));
        let set = later.headers().get(header::SET_COOKIE).unwrap();
        assert!(!set.to_str().unwrap().contains("Secure"));
        let again = s
            .read(
                &request_with_cookie(Some(&cookie_pair(set))),
                1000 + REFRESH_AFTER_SECS + IDLE_LIFETIME_SECS,
            )
            .unwrap();
        assert_eq!(again.uid, Some(7));
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let data = SessionData::signed_in(7, "a@b.c", "Nick", "hash", 1000);
        let dbg = format!("{data:?}");
        for secret in [&data.csrf, &data.sid, &data.pwfp] {
            assert!(
                !secret.is_empty() && !dbg.contains(secret.as_str()),
                "{dbg}"
            );
        }
        assert!(dbg.contains("a@b.c"), "{dbg}");
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let s = Sessions::new("k1-0123456789abcdef0123456789abcdef");
        let data = SessionData::anonymous(5);
        let v = s.set_cookie(&data, true).to_str().unwrap().to_string();
        assert!(
            v.contains("HttpOnly") && v.contains("SameSite=Lax") && v.contains("Secure"),
            "{v}"
        );
        let v = s.set_cookie(&data, false).to_str().unwrap().to_string();
        assert!(!v.contains("Secure"), "{v}");
    }
}
