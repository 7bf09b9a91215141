//! FastAdmin's admin sign-in, as `app\admin\library\Auth::login` does it: the password
//! checked as `md5(md5(password) . salt)` against `fa_admin`, then a new `token`, `loginip`
//! and `logintime`, and the "keep me logged in" cookie `keeplogin = id|keeptime|expiretime|key`
//! that the server recognises (`services::admin_auth`). Dev only: a real site has FastAdmin.

use maud::html;
use mysql_async::prelude::*;
use subtle::ConstantTimeEq as _;

use super::pages::{error_page, html_page, layout};
use super::{ADMIN_CONSOLE, Front};
use crate::http_serve::{Req, Resp, redirect};

/// FastAdmin's login form keeps an admin for a day when "保持会话" is ticked.
const KEEPTIME: i64 = 86400;

pub async fn page(front: &Front, req: &Req) -> Resp {
    let back = return_to(req);
    if req.method != http::Method::POST {
        return form(&back, None);
    }
    let fields = req.form();
    let get = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    match sign_in(front, get("username"), get("password"), req.peer.ip()).await {
        Ok(Ok(cookie)) => {
            let mut r = redirect(&back);
            if let Ok(v) = http::HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(message)) => form(&back, Some(message)),
        Err(e) => error_page(500, "登录失败", &format!("数据库错误: {e}")),
    }
}

/// Where to go after signing in: the `url` the jump page named (`/index/login/url/<enc>.html`
/// or `?url=`), if it is a path on this site.
fn return_to(req: &Req) -> String {
    let from_path = req
        .path
        .split_once("/url/")
        .map(|(_, rest)| rest.trim_end_matches(".html").to_string());
    let from_query = serde_urlencoded::from_str::<Vec<(String, String)>>(&req.query)
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "url").map(|(_, v)| v));
    let from_form = req
        .form()
        .into_iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v);
    let raw = from_form.or(from_query).or(from_path).unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned();
    if decoded.starts_with('/') && !decoded.starts_with("//") && !decoded.contains('\\') {
        decoded
    } else {
        ADMIN_CONSOLE.to_string()
    }
}

fn form(back: &str, error: Option<&str>) -> Resp {
    let page = layout(
        "登录 - ChatHub 管理后台",
        html! {
            h1 { "ChatHub 管理后台" }
            p class="sub" { "FastAdmin 管理员登录（仅 cargo dev）" }
            @if let Some(e) = error { p class="err" { (e) } }
            form method="post" action=(super::LOGIN_PATH) {
                input type="hidden" name="url" value=(back);
                label for="username" { "用户名" }
                input type="text" id="username" name="username" autocomplete="username";
                label for="password" { "密码" }
                input type="password" id="password" name="password" autocomplete="current-password";
                button type="submit" class="btn" id="login-btn" { "登 录" }
            }
            p class="note" { "登录信息见 cargo dev 启动时打印的横幅" }
        },
    );
    html_page(if error.is_some() { 401 } else { 200 }, page)
}

/// Check the credentials; on success rotate the token as FastAdmin does and return the
/// `Set-Cookie` value. `Ok(Err(_))` is FastAdmin's message for a refused login.
async fn sign_in(
    front: &Front,
    username: &str,
    password: &str,
    ip: std::net::IpAddr,
) -> Result<Result<String, &'static str>, mysql_async::Error> {
    let t = &front.setup.tables;
    let mut conn = front.db.get_conn().await?;
    let row: Option<(u32, String, String, String)> = conn
        .exec_first(
            format!(
                "SELECT id, password, salt, status FROM `{}` WHERE username = ?",
                t.admin
            ),
            (username,),
        )
        .await?;
    let Some((id, hash, salt, status)) = row else {
        return Ok(Err("用户名不正确"));
    };
    if status == "hidden" {
        return Ok(Err("管理员已经被禁止登录"));
    }
    let given = crate::demo::fastadmin_admin_hash(password, &salt);
    if !bool::from(given.as_bytes().ct_eq(hash.as_bytes())) {
        conn.exec_drop(
            format!(
                "UPDATE `{}` SET loginfailure = loginfailure + 1 WHERE id = ?",
                t.admin
            ),
            (id,),
        )
        .await?;
        return Ok(Err("密码不正确"));
    }
    let now = front.setup.clock.epoch();
    let token = uuid_v4();
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET loginfailure = 0, logintime = ?, loginip = ?, token = ? WHERE id = ?",
            t.admin
        ),
        (now, ip.to_string(), &token, id),
    )
    .await?;
    let expiretime = now + KEEPTIME;
    let key = chathub::services::admin_auth::keeplogin_key(
        &id.to_string(),
        &KEEPTIME.to_string(),
        &expiretime.to_string(),
        &token,
        &front.setup.token_key,
    );
    // PHP's setcookie percent-encodes the `|`; FastAdmin keeps the cookie for 7 days.
    Ok(Ok(format!(
        "keeplogin={id}%7C{KEEPTIME}%7C{expiretime}%7C{key}; Max-Age={}; Path=/; HttpOnly",
        7 * 86400
    )))
}

/// FastAdmin's `Random::uuid()`: a random version-4 UUID.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
