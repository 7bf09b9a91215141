//! Recognising the admin FastAdmin (PHP) signed in, without a second login.
//!
//! Two ways, as FastAdmin's `app\admin\library\Auth` has them:
//! - the PHP session (`PHPSESSID`, read by `php_session` from files or Redis, `php`
//!   serialiser, ThinkPHP prefix `think` → `admin` array), confirmed against `fa_admin`: same `token`
//!   (FastAdmin rotates it at login and blanks it at logout), status `normal`, and the
//!   session's `loginip` equal to the client address (FastAdmin's `loginip_check`);
//! - the "keep login" cookie `keeplogin = id|keeptime|expiretime|key` with
//!   `key = md5(md5(id) . md5(keeptime) . md5(expiretime) . token . token.key)`, not expired,
//!   `fa_admin.loginip` equal to the client address, status `normal` (`Auth::autologin()`).
//!
//! We only read: `PHPSESSID` and `keeplogin` are never set, changed or cleared here.

use subtle::ConstantTimeEq as _;

use secrecy::ExposeSecret as _;

use crate::db::admin::{self as admin_db, AdminId, AdminRow, Grants};
use crate::domain::action::Action;
use crate::domain::php_serialize::{self, PhpValue};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::php_session;

/// An admin FastAdmin has signed in, confirmed against `fa_admin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedInAdmin {
    pub id: AdminId,
    /// Written as `operator` in the addon's log, as the original's `session('admin.username')`.
    pub username: String,
}

/// What a request carries that can name a FastAdmin admin.
pub struct AdminCookies {
    pub php_session_id: Option<String>,
    pub keeplogin: Option<String>,
    /// FastAdmin ties both to the address the admin signed in from.
    pub client_ip: std::net::IpAddr,
}

/// The admin these cookies name, if FastAdmin still has them signed in.
pub async fn recognise(app: &App, req: &AdminCookies) -> Result<Option<SignedInAdmin>, AppError> {
    if let Some(admin) = from_php_session(app, req).await? {
        return Ok(Some(admin));
    }
    from_keeplogin(app, req).await
}

/// Kept here for the fuzz targets, which reach it by this path.
pub use crate::services::php_session::is_safe_session_id;

/// What a session file says about its admin.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionAdmin {
    pub id: AdminId,
    pub token: String,
    pub loginip: Option<String>,
}

impl std::fmt::Debug for SessionAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionAdmin")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("loginip", &self.loginip)
            .finish()
    }
}

/// The `admin` entry of a FastAdmin session file (`think|a:{admin:…}`, or a top-level
/// `admin|…` when the site configured an empty session prefix).
pub fn session_admin(file: &[u8]) -> Option<SessionAdmin> {
    let vars = php_serialize::parse_session(file).ok()?;
    let admin: &PhpValue = php_session::scoped(&vars, "admin")?;
    let id = admin.get("id")?.as_int()?;
    let id = u32::try_from(id).ok().filter(|i| *i > 0)?;
    let token = admin.get("token")?.as_text()?;
    let loginip = admin.get("loginip").and_then(PhpValue::as_text);
    Some(SessionAdmin {
        id: AdminId(id),
        token,
        loginip,
    })
}

async fn from_php_session(
    app: &App,
    req: &AdminCookies,
) -> Result<Option<SignedInAdmin>, AppError> {
    let Some(sid) = req.php_session_id.as_deref() else {
        return Ok(None);
    };
    let Some(file) = php_session::read(app, sid).await else {
        return Ok(None);
    };
    let Some(sess) = session_admin(&file) else {
        return Ok(None);
    };
    let mut conn = app.db.conn().await?;
    let Some(row) = admin_db::find(&mut conn, &app.db.t, sess.id).await? else {
        return Ok(None);
    };
    let ip = req.client_ip.to_string();
    let accepted = row_is_active(&row)
        && bool::from(row.token.as_bytes().ct_eq(sess.token.as_bytes()))
        // FastAdmin's `loginip_check`; a session written without `loginip` falls back to the
        // address FastAdmin stored in `fa_admin` at the same login.
        && sess.loginip.as_deref().or(row.loginip.as_deref()) == Some(ip.as_str());
    if !accepted {
        tracing::debug!(admin = row.id.0, "PHP session does not match fa_admin");
        return Ok(None);
    }
    Ok(Some(SignedInAdmin {
        id: row.id,
        username: row.username,
    }))
}

/// A parsed `keeplogin` cookie, fields kept as the text that was hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeepLogin {
    pub id: AdminId,
    pub id_text: String,
    pub keeptime: String,
    pub expiretime: i64,
    pub expiretime_text: String,
    pub key: String,
}

/// The key is as good as the admin's password: never in logs.
impl std::fmt::Debug for KeepLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepLogin")
            .field("id", &self.id)
            .field("keeptime", &self.keeptime)
            .field("expiretime", &self.expiretime)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl KeepLogin {
    /// `id|keeptime|expiretime|key` (PHP's `setcookie` percent-encodes the `|`).
    pub fn parse(cookie_value: &str) -> Option<KeepLogin> {
        let decoded = percent_decode(cookie_value)?;
        let parts: Vec<&str> = decoded.split('|').collect();
        let [id, keeptime, expiretime, key] = parts.as_slice() else {
            return None;
        };
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(id) || !digits(keeptime) || !digits(expiretime) || key.is_empty() {
            return None;
        }
        let id_num: u32 = id.parse().ok().filter(|i| *i > 0)?;
        // PHP treats "0" as false: `if ($id && $keeptime && $expiretime && $key ...)`.
        if keeptime.trim_start_matches('0').is_empty() {
            return None;
        }
        Some(KeepLogin {
            id: AdminId(id_num),
            id_text: id.to_string(),
            keeptime: keeptime.to_string(),
            expiretime: expiretime.parse().ok()?,
            expiretime_text: expiretime.to_string(),
            key: key.to_string(),
        })
    }

    /// FastAdmin's `Auth::keeplogin()` key for this cookie and the admin's current token.
    pub fn expected_key(&self, admin_token: &str, token_key: &str) -> String {
        keeplogin_key(
            &self.id_text,
            &self.keeptime,
            &self.expiretime_text,
            admin_token,
            token_key,
        )
    }
}

/// `md5(md5($id) . md5($keeptime) . md5($expiretime) . $token . config('token.key'))`.
pub fn keeplogin_key(
    id: &str,
    keeptime: &str,
    expiretime: &str,
    admin_token: &str,
    token_key: &str,
) -> String {
    let md5 = |s: &str| format!("{:x}", md5::compute(s.as_bytes()));
    md5(&format!(
        "{}{}{}{admin_token}{token_key}",
        md5(id),
        md5(keeptime),
        md5(expiretime)
    ))
}

async fn from_keeplogin(app: &App, req: &AdminCookies) -> Result<Option<SignedInAdmin>, AppError> {
    let Some(token_key) = app.config.fastadmin_token_key.as_ref() else {
        return Ok(None);
    };
    let Some(raw) = req.keeplogin.clone() else {
        return Ok(None);
    };
    let Some(kl) = KeepLogin::parse(&raw) else {
        tracing::debug!("keeplogin cookie is malformed");
        return Ok(None);
    };
    if kl.expiretime <= app.clock.epoch() {
        return Ok(None);
    }
    let mut conn = app.db.conn().await?;
    let Some(row) = admin_db::find(&mut conn, &app.db.t, kl.id).await? else {
        return Ok(None);
    };
    let expected = kl.expected_key(&row.token, token_key.expose_secret());
    let ip = req.client_ip.to_string();
    let accepted = row_is_active(&row)
        && bool::from(expected.as_bytes().ct_eq(kl.key.as_bytes()))
        && row.loginip.as_deref() == Some(ip.as_str());
    if !accepted {
        tracing::debug!(admin = row.id.0, "keeplogin cookie does not match fa_admin");
        return Ok(None);
    }
    Ok(Some(SignedInAdmin {
        id: row.id,
        username: row.username,
    }))
}

/// A signed-out admin has an empty token; a disabled one a status other than `normal`.
fn row_is_active(row: &AdminRow) -> bool {
    row.status == "normal" && !row.token.is_empty()
}

/// Rule names that grant `action` to a non-super admin. FastAdmin checked `index/<action>`
/// (the addon route sets controller `index`); the addon's menu rules are named
/// `chathub/index/<action>`, and `addons/chathub/index/<action>` is the URL path. Any of them
/// grants the action (COMPAT.md#admin-permissions).
pub fn rule_names(action: Action) -> Vec<String> {
    let a = action.name().to_lowercase();
    vec![
        format!("index/{a}"),
        format!("chathub/index/{a}"),
        format!("addons/chathub/index/{a}"),
    ]
}

/// Whether the admin's groups grant `action`.
pub async fn may(app: &App, admin: &SignedInAdmin, action: Action) -> Result<bool, AppError> {
    let mut conn = app.db.conn().await?;
    Ok(
        match admin_db::grants(&mut conn, &app.db.t, admin.id).await? {
            Grants::Everything => true,
            rules => rules.allows_any(&rule_names(action)),
        },
    )
}

/// `urldecode()`, but a `%` without two hex digits, or a result that is not UTF-8, makes the
/// cookie unreadable: a keeplogin value FastAdmin wrote never has either.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let well_formed = b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeplogin_key_is_fastadmins_md5_chain() {
        // md5(md5("1").md5("86400").md5("1795648047")."tok".“key”) computed step by step.
        let m = |s: &str| format!("{:x}", md5::compute(s));
        let expected = m(&format!(
            "{}{}{}tokkey",
            m("1"),
            m("86400"),
            m("1795648047")
        ));
        assert_eq!(
            keeplogin_key("1", "86400", "1795648047", "tok", "key"),
            expected
        );
        // A fixed vector: md5("c4ca4238a0b923820dcc509a6f75849b" . md5("86400") . md5("0")...)
        assert_eq!(m("1"), "c4ca4238a0b923820dcc509a6f75849b");
    }

    #[test]
    fn keeplogin_cookie_parses_encoded_and_plain() {
        let k = KeepLogin::parse("1%7C86400%7C1795648047%7Cabc").unwrap();
        assert_eq!(k.id, AdminId(1));
        assert_eq!(k.expiretime, 1795648047);
        assert_eq!(KeepLogin::parse("1|86400|1795648047|abc"), Some(k));
        for bad in [
            "",
            "1|86400|1795648047",
            "1|86400|1795648047|abc|x",
            "0|86400|1795648047|abc",
            "1|0|1795648047|abc",
            "1|86400|x|abc",
            "-1|86400|1795648047|abc",
            "1|86400|1795648047|",
            "1%ZZ86400",
        ] {
            assert!(KeepLogin::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn keeplogin_debug_output_carries_no_key() {
        let k = KeepLogin::parse("1|86400|1795648047|abcdef0123456789").unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("abcdef0123456789"), "{dbg}");
    }
}
