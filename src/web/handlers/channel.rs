//! Channel credentials and reprovision: channelList, channelAuth, channelCallback, reprovision.

use crate::domain::channel::{AccountChannel, Channel};
use crate::domain::php::php_urlencode;
use crate::domain::tenant::TenantId;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::channels::{self, Saved};
use crate::services::provisioning::{self, Outcome};
use crate::web::guards::require_member;
use crate::web::http::{Request, Response, html, html_status, redirect, text};
use crate::web::pages::channels as page;

const CHANNEL_LIST: &str = "/addons/chathub/index/channelList";

/// The confirmation form's token field (the name our other forms use, so the compat runner
/// and FastAdmin-style tooling read it alike).
const RESUBMIT_TOKEN_FIELD: &str = "__token__";

fn my_error(msg: &str) -> Response {
    redirect(&format!(
        "/addons/chathub/index/my?error={}",
        php_urlencode(msg)
    ))
}

fn auth_error(channel: AccountChannel, msg: &str) -> Response {
    redirect(&format!(
        "/addons/chathub/index/channelAuth?channel={}&error={}",
        php_urlencode(channel.as_str()),
        php_urlencode(msg)
    ))
}

/// Constant-time comparison of a submitted token with the session's.
fn token_matches(expected: &str, submitted: Option<&str>) -> bool {
    let Some(s) = submitted else { return false };
    let (a, b) = (expected.as_bytes(), s.as_bytes());
    !a.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// `channelList`: the six channels of the member's newest tenant.
pub async fn channel_list(app: &App, req: &Request) -> Result<Response, AppError> {
    let m = match require_member(app, req).await {
        Ok(m) => m,
        Err(resp) => return Ok(resp),
    };
    let Some(states) = channels::member_overview(app, m.id()).await? else {
        return Ok(my_error("请先开通租户"));
    };
    let notice = channels::notice(&channels::LIST_NOTICES, req.query().get("error"));
    Ok(html(page::channel_list_page(
        &app.addon().site_name,
        &states,
        notice,
    )))
}

/// The account channel `channelAuth` is about, or the answer for any other: the channel comes
/// from the query only (`input('get.channel', 'amazon')`), and the widget has nothing to store
/// (COMPAT.md#web-widget-channel).
// The refusal is the answer itself, built once per request: boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
fn account_channel(req: &Request, site_name: &str) -> Result<AccountChannel, Response> {
    let requested = req.query().get("channel");
    match requested.map_or(Some(Channel::DEFAULT), Channel::parse) {
        None => Err(redirect(&format!(
            "{CHANNEL_LIST}?error={}",
            php_urlencode(channels::UNSUPPORTED_CHANNEL)
        ))),
        Some(Channel::WebWidget) if req.is_post() => Err(redirect(
            "/addons/chathub/index/channelAuth?channel=web_widget",
        )),
        Some(Channel::WebWidget) => Err(html(page::web_widget_page(site_name))),
        Some(Channel::Account(a)) => Ok(a),
    }
}

/// `channelAuth?channel=`: the credentials form (GET) and saving it (POST).
pub async fn channel_auth(app: &App, req: &Request) -> Result<Response, AppError> {
    let m = match require_member(app, req).await {
        Ok(m) => m,
        Err(resp) => return Ok(resp),
    };
    let Some(tenant_id) = channels::member_tenant(app, m.id()).await? else {
        return Ok(my_error("请先开通租户"));
    };
    let site_name = app.addon().site_name.clone();
    let channel = match account_channel(req, &site_name) {
        Ok(a) => a,
        Err(resp) => return Ok(resp),
    };
    if !req.is_post() {
        let notice = channels::notice(&channels::AUTH_NOTICES, req.query().get("error"));
        return Ok(html(page::channel_auth_page(
            &site_name,
            channel,
            m.csrf(),
            notice,
        )));
    }
    let form = req.post()?;
    if !token_matches(m.csrf(), form.get("__token__")) {
        return Ok(auth_error(channel, channels::FORM_EXPIRED));
    }
    Ok(
        match channels::save_credentials(app, tenant_id, channel, &form).await? {
            Saved::Saved => redirect(CHANNEL_LIST),
            Saved::Refused(msg) => auth_error(channel, msg),
            // The tenant was deleted meanwhile: as if it never existed.
            Saved::TenantGone => my_error("请先开通租户"),
        },
    )
}

/// `channelCallback`: OAuth is not used; the text points to the form
/// (COMPAT.md#channel-callback-public).
pub async fn channel_callback(_app: &App, _req: &Request) -> Result<Response, AppError> {
    Ok(text(
        "未启用 OAuth 回调。请使用 /addons/chathub/index/channelAuth 表单直接绑定 App Secret。",
    ))
}

/// What `ids` asked for, read like the original's `!$ids` check.
enum TenantParam {
    Missing,
    Id(TenantId),
    Invalid,
}

fn tenant_param(raw: Option<&str>) -> TenantParam {
    match raw {
        None | Some("") | Some("0") => TenantParam::Missing,
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => match s.parse::<u32>() {
            Ok(id) => TenantParam::Id(TenantId(id)),
            Err(_) => TenantParam::Invalid,
        },
        Some(_) => TenantParam::Invalid,
    }
}

/// `reprovision?ids=`: one provision attempt for the member's own tenant. Only a POST with
/// the session's token acts; anything else gets the confirmation form
/// (COMPAT.md#reprovision-link-token). Suspended, disabled and expired tenants are refused
/// (COMPAT.md#reprovision-eligible).
pub async fn reprovision(app: &App, req: &Request) -> Result<Response, AppError> {
    let m = match require_member(app, req).await {
        Ok(m) => m,
        Err(resp) => return Ok(resp),
    };
    let id = match tenant_param(req.param("ids")?.as_deref()) {
        TenantParam::Missing => return Ok(my_error("缺少租户 ID")),
        TenantParam::Invalid => return Ok(my_error("租户不存在或无权操作")),
        TenantParam::Id(id) => id,
    };
    let tenant = match provisioning::reprovisionable(app, id, m.id()).await? {
        Ok(t) => t,
        Err(msg) => return Ok(my_error(msg)),
    };
    let token = if req.is_post() {
        req.post()?.get(RESUBMIT_TOKEN_FIELD).map(str::to_string)
    } else {
        None
    };
    if !token_matches(m.csrf(), token.as_deref()) {
        return Ok(html_status(
            http::StatusCode::FORBIDDEN,
            page::reprovision_confirm_page(
                &app.addon().site_name,
                &tenant.tenant_name,
                tenant.id.0,
                m.csrf(),
            ),
        ));
    }
    Ok(match provisioning::reprovision_now(app, id).await? {
        Some(Outcome::Provisioned) => redirect("/addons/chathub/index/my?just_paid=1"),
        Some(Outcome::Ineligible(why)) => my_error(why.message()),
        Some(Outcome::Gone) => my_error("租户不存在或无权操作"),
        // Already being provisioned (the worker, another click), or it failed: the member
        // center shows it as in progress.
        None | Some(Outcome::Failed { .. } | Outcome::Interrupted) => {
            redirect("/addons/chathub/index/my?provisioning=1")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_read_like_the_original() {
        assert!(matches!(tenant_param(None), TenantParam::Missing));
        assert!(matches!(tenant_param(Some("0")), TenantParam::Missing));
        assert!(matches!(tenant_param(Some("")), TenantParam::Missing));
        assert!(matches!(
            tenant_param(Some("13")),
            TenantParam::Id(TenantId(13))
        ));
        assert!(matches!(tenant_param(Some("13abc")), TenantParam::Invalid));
        assert!(matches!(
            tenant_param(Some("99999999999")),
            TenantParam::Invalid
        ));
        assert!(matches!(tenant_param(Some("-1")), TenantParam::Invalid));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", Some("abc")));
        assert!(!token_matches("abc", Some("abd")));
        assert!(!token_matches("abc", Some("ab")));
        assert!(!token_matches("abc", None));
        assert!(!token_matches("", Some("")));
    }
}
