//! Thin request handlers: parse, call one domain function, render one page.

pub mod admin;
pub mod channel;
pub mod member;
pub mod pay;
pub mod public;

use crate::domain::action::Action;
use crate::error::AppError;
use crate::services::app::App;
use crate::web::http::{Request, Response};

/// Route an addon action to its handler.
pub async fn dispatch(app: &App, action: Action, req: &Request) -> Result<Response, AppError> {
    let resp = match action {
        Action::Landing => public::landing(app, req).await,
        Action::RegisterPage => public::register_page(app, req).await,
        Action::Register => public::register(app, req).await,
        Action::Login => member::login(app, req).await,
        Action::DoLogin => member::do_login(app, req).await,
        Action::Logout => member::logout(app, req).await,
        Action::My => member::my(app, req).await,
        Action::ChangePassword => member::change_password(app, req).await,
        Action::Renew => pay::renew(app, req).await,
        Action::ChannelList => channel::channel_list(app, req).await,
        Action::ChannelAuth => channel::channel_auth(app, req).await,
        Action::ChannelCallback => channel::channel_callback(app, req).await,
        Action::Reprovision => channel::reprovision(app, req).await,
        Action::PayAlipay => pay::pay_alipay(app, req).await,
        Action::PayWechat => pay::pay_wechat(app, req).await,
        Action::PayNotify => pay::pay_notify(app, req).await,
        Action::PayReturn => pay::pay_return(app, req).await,
        Action::Index => admin::index(app, req).await,
        Action::Add => admin::add(app, req).await,
        Action::Del => admin::del(app, req).await,
        Action::Dashboard => admin::dashboard(app, req).await,
        Action::Logs => admin::logs(app, req).await,
        Action::Suspend => admin::suspend(app, req).await,
        Action::Activate => admin::activate(app, req).await,
        Action::SetExpire => admin::set_expire(app, req).await,
        Action::QueryPay => admin::query_pay(app, req).await,
    }?;
    // Sliding idle expiry of the member session (PHP's session lifetime counted from the
    // last request, not from sign-in).
    Ok(app.sessions.refresh(req, app.clock.epoch(), resp))
}

/// FastAdmin's answer to a request that needs a signed-in admin (original `Backend`
/// `_initialize`): the jump page to its front-end login, or the jump JSON for AJAX.
pub fn login_required(req: &Request) -> Response {
    let url = format!(
        "/index/login/url/{}.html",
        crate::domain::php::php_urlencode(&req.path_and_query())
    );
    fastadmin_error(req, "请登录后再操作", &url)
}

/// FastAdmin's `$this->error()` / `$this->success()`: JSON for AJAX callers, the jump page
/// for browsers.
pub fn fastadmin_jump(req: &Request, success: bool, msg: &str, url: &str) -> Response {
    if req.is_ajax() {
        let body = serde_json::json!({"code": if success { 1 } else { 0 }, "msg": msg, "data": "", "url": url, "wait": 3});
        crate::web::http::json(crate::domain::php::php_json_unescaped_unicode(&body))
    } else {
        crate::web::http::html(crate::web::pages::fastadmin::jump_page(
            success, msg, url, 3,
        ))
    }
}

pub fn fastadmin_error(req: &Request, msg: &str, url: &str) -> Response {
    fastadmin_jump(req, false, msg, url)
}

/// A path naming no public method of the controller (`render`, `landing.json`, typos): the
/// original ran FastAdmin's admin check first, so visitors get its login jump; a signed-in
/// admin then got the addon router's 404 (no such callable method), so do we.
pub async fn unknown_action(app: &App, req: &Request) -> Response {
    match crate::web::guards::signed_in_admin(app, req).await {
        Ok(Some(_)) => AppError::NotFound.into_response(),
        Ok(None) => login_required(req),
        Err(e) => {
            e.report(&app.db.health, &req.id);
            e.into_response()
        }
    }
}
