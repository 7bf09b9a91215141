//! Thin request handlers: parse, call one domain function, render one page.

pub mod admin;
pub mod channel;
pub mod member;
pub mod pay;
pub mod public;

use std::future::Future;
use std::pin::Pin;

use crate::domain::action::Action;
use crate::error::AppError;
use crate::services::app::App;
use crate::web::http::{Request, Response};

/// A handler's work. Boxed, so a request's future holds only the handler it runs: a match
/// awaiting every handler inline made each request's future as large as the largest
/// handler's (tens of kilobytes), copied on every spawn and poll (bench/RESULTS.md).
type Handled<'a> = Pin<Box<dyn Future<Output = Result<Response, AppError>> + Send + 'a>>;

/// Route an addon action to its handler.
pub async fn dispatch(app: &App, action: Action, req: &Request) -> Result<Response, AppError> {
    let handler: Handled<'_> = match action {
        Action::Landing => Box::pin(public::landing(app, req)),
        Action::RegisterPage => Box::pin(public::register_page(app, req)),
        Action::Register => Box::pin(public::register(app, req)),
        Action::Login => Box::pin(member::login(app, req)),
        Action::DoLogin => Box::pin(member::do_login(app, req)),
        Action::Logout => Box::pin(member::logout(app, req)),
        Action::My => Box::pin(member::my(app, req)),
        Action::ChangePassword => Box::pin(member::change_password(app, req)),
        Action::Renew => Box::pin(pay::renew(app, req)),
        Action::ChannelList => Box::pin(channel::channel_list(app, req)),
        Action::ChannelAuth => Box::pin(channel::channel_auth(app, req)),
        Action::ChannelCallback => Box::pin(channel::channel_callback(app, req)),
        Action::Reprovision => Box::pin(channel::reprovision(app, req)),
        Action::PayAlipay => Box::pin(pay::pay_alipay(app, req)),
        Action::PayWechat => Box::pin(pay::pay_wechat(app, req)),
        Action::PayNotify => Box::pin(pay::pay_notify(app, req)),
        Action::PayReturn => Box::pin(pay::pay_return(app, req)),
        Action::Index => Box::pin(admin::index(app, req)),
        Action::Add => Box::pin(admin::add(app, req)),
        Action::Del => Box::pin(admin::del(app, req)),
        Action::Dashboard => Box::pin(admin::dashboard(app, req)),
        Action::Logs => Box::pin(admin::logs(app, req)),
        Action::Suspend => Box::pin(admin::suspend(app, req)),
        Action::Activate => Box::pin(admin::activate(app, req)),
        Action::SetExpire => Box::pin(admin::set_expire(app, req)),
        Action::QueryPay => Box::pin(admin::query_pay(app, req)),
        Action::Orders => Box::pin(admin::orders(app, req)),
        Action::Refund => Box::pin(admin::refund(app, req)),
        Action::Reconcile => Box::pin(admin::reconcile(app, req)),
        Action::RefundNotify => Box::pin(pay::refund_notify(app, req)),
    };
    let resp = handler.await?;
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
