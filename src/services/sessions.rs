//! Member sessions in a signed and encrypted cookie, so a restart loses nobody's session.
//!
//! The original kept `chathub_user_id/email/nick` in PHP's session; we keep the same three
//! facts (plus a CSRF token and bookkeeping) in our own cookie. FastAdmin's `PHPSESSID` and
//! `keeplogin` are never touched: they belong to the admin panel. Reading the cookie off a
//! request and setting it on a response is `web::session`'s.

use cookie::{Cookie, CookieJar, Key, SameSite};
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::domain::ids::UserId;

pub const COOKIE_NAME: &str = "chathub_session";

/// PHP's default `session.gc_maxlifetime`: a session idle longer than this is over.
pub const IDLE_LIFETIME_SECS: i64 = 1440;

/// Re-issue the cookie at most this often, so `seen` stays fresh without a `Set-Cookie` on
/// every response.
pub const REFRESH_AFTER_SECS: i64 = 300;

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionData {
    /// Signed-in member (`fa_user.id`); `None` for an anonymous session that only carries a
    /// CSRF token.
    pub uid: Option<UserId>,
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
    /// Not idle longer than PHP's session lifetime, and not issued in the future.
    pub fn stands_at(&self, now: i64) -> bool {
        now - self.seen <= IDLE_LIFETIME_SECS && self.seen <= now + 60
    }

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
        uid: UserId,
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
    let bytes: [u8; 16] = rand::random();
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

    /// The session in a `chathub_session` cookie value as the browser sent it, if it decrypts
    /// and is not idle too long.
    pub fn open(&self, raw: &str, now: i64) -> Option<SessionData> {
        self.unseal(raw).filter(|data| data.stands_at(now))
    }

    /// The cookie's contents when it decrypts and parses, whatever its age.
    pub fn unseal(&self, raw: &str) -> Option<SessionData> {
        // The value was percent-encoded when set (`encoded()`); decode before opening it.
        let value = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(COOKIE_NAME, value.into_owned()));
        let plain = jar.private(&self.key).get(COOKIE_NAME)?;
        serde_json::from_str(plain.value()).ok()
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
