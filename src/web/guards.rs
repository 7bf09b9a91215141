//! The guards every page goes through: the one member guard, the admin's recognition from
//! FastAdmin's cookies, and the same-site checks on state-changing requests.

use crate::error::AppError;
use crate::services::admin_auth::{self, AdminCookies, SignedInAdmin};
use crate::services::app::App;
use crate::services::member::{self, LOGIN_URL, Member, MemberCheck, login_error_url};
use crate::services::sessions::SessionData;
use crate::web::http::{Request, Response, redirect};
use crate::web::session::no_store;

/// The signed-in session this request carries, if it still stands: the cookie opens, is not
/// idle too long, and [`member::session_stands`].
pub async fn live_session(app: &App, req: &Request) -> Result<Option<SessionData>, AppError> {
    let Some(session) = app.sessions.read(req, app.clock.epoch()) else {
        return Ok(None);
    };
    Ok(member::session_stands(app, &session)
        .await?
        .then_some(session))
}

/// The member behind this request, or the response that sends the visitor to sign in. The
/// one guard of every member page.
///
/// - no session (or an expired, forged or logged-out cookie): 302 to the addon's `login`
///   (COMPAT.md#member-login-redirect);
/// - the account row is gone: the session is ended and 302 to
///   `login?error=账号不存在`, as the original `my`;
/// - the account is locked or its password changed since sign-in: the session is ended
///   and 302 to `login`.
///
/// Database failures answer the generic error page (cause logged).
pub async fn require_member(app: &App, req: &Request) -> Result<Member, Response> {
    let end_session = |to: &str| no_store(app.sessions.without_session(redirect(to), req.https));
    let found = match app.sessions.read(req, app.clock.epoch()) {
        Some(session) => member::signed_in_member(app, session).await,
        None => Ok(None),
    };
    match found {
        Err(e) => {
            e.report(&app.db.health, &req.id);
            Err(e.into_response())
        }
        Ok(None) => {
            crate::web::session::offer_carry_over(app, req).await?;
            // A cookie that once signed someone in but no longer does is removed.
            let signed_in_cookie = app
                .sessions
                .read(req, app.clock.epoch())
                .is_some_and(|s| s.uid.is_some());
            if signed_in_cookie {
                Err(end_session(LOGIN_URL))
            } else {
                Err(no_store(redirect(LOGIN_URL)))
            }
        }
        Ok(Some(MemberCheck::Gone)) => Err(end_session(&login_error_url("账号不存在"))),
        Ok(Some(MemberCheck::Refused)) => Err(end_session(LOGIN_URL)),
        Ok(Some(MemberCheck::Member(m))) => Ok(*m),
    }
}

/// Whether the request carries a signed-in session that still stands (the original's
/// `login` only looked at the session; the account is checked when `my` opens).
pub async fn has_session(app: &App, req: &Request) -> Result<bool, AppError> {
    Ok(live_session(app, req).await?.is_some())
}

/// Logout: the session this request carries is revoked (see [`member::revoke_session`]).
pub async fn end_session(app: &App, req: &Request) -> Result<(), AppError> {
    match app.sessions.read(req, app.clock.epoch()) {
        Some(session) => member::revoke_session(app, &session).await,
        None => Ok(()),
    }
}

/// The admin FastAdmin signed in on this request, if any.
pub async fn signed_in_admin(app: &App, req: &Request) -> Result<Option<SignedInAdmin>, AppError> {
    let cookies = AdminCookies {
        php_session_id: req.cookie("PHPSESSID"),
        keeplogin: req.cookie("keeplogin"),
        client_ip: req.client_ip,
    };
    admin_auth::recognise(app, &cookies).await
}

/// Cross-site request forgery guard for state-changing admin requests
/// (COMPAT.md#admin-csrf): an AJAX request (`X-Requested-With` cannot be sent cross-origin
/// without a CORS preflight, which we never grant), or an `Origin` — else a `Referer` — naming
/// this site: the same scheme, host and port as the request itself or as the configured
/// public base URL.
pub fn is_same_origin_or_ajax(req: &Request, public_base_url: &str) -> bool {
    if req.is_ajax() {
        return true;
    }
    let source = match req.header("origin") {
        Some(o) if o != "null" => o,
        Some(_) => return false,
        None => match req.header("referer") {
            Some(r) => r,
            None => return false,
        },
    };
    names_this_site(req, source, public_base_url)
}

/// Whether the browser says this request came from another site: `Sec-Fetch-Site` when the
/// browser sends it (anything but `same-origin` or `none`, a typed URL or bookmark), else an
/// `Origin`, else a `Referer` not naming this site. A request with none of them (a
/// non-browser client, an old browser) shows nothing cross-site.
pub fn shows_cross_site(req: &Request, public_base_url: &str) -> bool {
    if let Some(site) = req.header("sec-fetch-site") {
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    if let Some(origin) = req.header("origin") {
        return !names_this_site(req, origin, public_base_url);
    }
    if let Some(referer) = req.header("referer") {
        return !names_this_site(req, referer, public_base_url);
    }
    false
}

/// Does the absolute URL `source` belong to this site's origin (scheme, host, port)?
fn names_this_site(req: &Request, source: &str, public_base_url: &str) -> bool {
    let Some(source) = WebOrigin::of_url(source) else {
        return false;
    };
    let scheme = if req.https { "https" } else { "http" };
    let own = req
        .header("host")
        .and_then(|h| WebOrigin::of_authority(scheme, h));
    own.as_ref() == Some(&source) || WebOrigin::of_url(public_base_url).as_ref() == Some(&source)
}

/// A web origin: scheme, lower-cased host, port (the scheme's default when not written).
#[derive(Debug, PartialEq, Eq)]
struct WebOrigin {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl WebOrigin {
    fn of_url(url: &str) -> Option<WebOrigin> {
        let (scheme, rest) = if let Some(r) = strip_prefix_ignore_case(url, "http://") {
            ("http", r)
        } else if let Some(r) = strip_prefix_ignore_case(url, "https://") {
            ("https", r)
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        WebOrigin::of_authority(scheme, authority)
    }

    fn of_authority(scheme: &'static str, authority: &str) -> Option<WebOrigin> {
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            None | Some("") => {
                if scheme == "https" {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse().ok()?,
        };
        if host.is_empty() {
            return None;
        }
        Some(WebOrigin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let o = |u: &str| WebOrigin::of_url(u);
        assert_eq!(o("http://127.0.0.1:8088/x"), o("http://127.0.0.1:8088"));
        assert_eq!(o("https://Example.com/a?b"), o("https://example.com:443"));
        assert_eq!(o("http://example.com/"), o("http://example.com:80"));
        assert_ne!(o("http://127.0.0.1:9999"), o("http://127.0.0.1:8088"));
        assert_ne!(o("http://example.com"), o("https://example.com"));
        assert_ne!(o("https://example.com:8443"), o("https://example.com"));
        assert_eq!(o("http://[::1]:80/"), o("http://[::1]"));
        assert_eq!(o("https://a@evil.com/"), None);
        assert_eq!(o("javascript:alert(1)"), None);
        assert_eq!(o("http://host:notaport/"), None);
    }
}
