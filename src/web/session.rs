//! The member cookie on requests and responses (the session itself is
//! `services::sessions`): reading it, sliding its idle expiry, setting and clearing it, and
//! the no-store headers PHP sends with a session.

use http::header;

use crate::error::AppError;
use crate::services::app::App;
use crate::services::php_session;
use crate::services::sessions::{COOKIE_NAME, SessionData, Sessions};
use crate::web::http::{Request, Response, redirect};

impl Sessions {
    /// The session carried by the request, if its cookie decrypts and is not idle too long.
    /// The cookie is decrypted once per request (the guard and the sliding refresh both ask).
    pub fn read(&self, req: &Request, now: i64) -> Option<SessionData> {
        req.session
            .get_or_init(|| self.unseal(&req.cookie(COOKIE_NAME)?))
            .as_ref()
            .filter(|data| data.stands_at(now))
            .cloned()
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

/// The switch from the PHP addon: a request without a chathub session whose `PHPSESSID` holds
/// a member the PHP addon signed in is answered `Err` with a redirect to the same URL carrying
/// our session, so the member is not asked to sign in again (`php_session::carry_over` has
/// the checks). `Ok`: nothing to carry over (a database failure is reported, and the visitor
/// is treated as signed out).
pub async fn offer_carry_over(app: &App, req: &Request) -> Result<(), Response> {
    let php_sid = req.cookie("PHPSESSID");
    match php_session::carry_over(app, php_sid.as_deref()).await {
        Ok(Some(session)) => Err(no_store(app.sessions.with_session(
            redirect(&same_url(req)),
            &session,
            req.https,
        ))),
        Ok(None) => Ok(()),
        Err(e) => {
            e.report(&app.db.health, &req.id);
            Ok(())
        }
    }
}

/// Logout: the request's PHP session cannot sign its member in here again (we cannot end it).
pub async fn retire_php_session(app: &App, req: &Request) -> Result<(), AppError> {
    php_session::retire(app, req.cookie("PHPSESSID").as_deref()).await
}

/// The URL this request asked for, always a path on this site (`//host` would leave it).
fn same_url(req: &Request) -> String {
    let path = format!("/{}", req.path.trim_start_matches(['/', '\\']));
    if req.query_string.is_empty() {
        path
    } else {
        format!("{path}?{}", req.query_string)
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
    use crate::services::sessions::{IDLE_LIFETIME_SECS, REFRESH_AFTER_SECS};
    use http::HeaderValue;

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
        let data =
            SessionData::signed_in(crate::domain::ids::UserId(7), "a@b.c", "Nick", "hash", 1000);
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
        let data =
            SessionData::signed_in(crate::domain::ids::UserId(7), "a@b.c", "Nick", "hash", 1000);
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
        assert_eq!(again.uid, Some(crate::domain::ids::UserId(7)));
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let data =
            SessionData::signed_in(crate::domain::ids::UserId(7), "a@b.c", "Nick", "hash", 1000);
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
