//! FastAdmin admin actions: index, add, del, dashboard, logs, suspend, activate, setExpire,
//! and our own queryPay (查询支付状态).
//!
//! Every action first passes the original's `Backend::_initialize()`: a signed-in FastAdmin
//! admin (`admin_auth`), then the admin's rules for the action. State-changing requests must
//! also come from our own pages (COMPAT.md#admin-csrf).

use crate::domain::action::Action;
use crate::domain::php::Params;
use crate::error::AppError;
use crate::services::admin::{self, Switch};
use crate::services::admin_auth::{self, SignedInAdmin};
use crate::services::app::App;
use crate::web::guards;
use crate::web::http::{Request, Response};
use crate::web::routing::Route;

use super::{fastadmin_jump, login_required};

/// Either the admin to act for, or the answer FastAdmin gave instead.
enum Gate {
    Admin(SignedInAdmin),
    Answer(Response),
}

async fn gate(app: &App, req: &Request, action: Action) -> Result<Gate, AppError> {
    let Some(admin) = guards::signed_in_admin(app, req).await? else {
        return Ok(Gate::Answer(login_required(req)));
    };
    if !admin_auth::may(app, &admin, action).await? {
        // Backend.php: `$this->error(__('You have no permission'), '')`.
        return Ok(Gate::Answer(fastadmin_jump(
            req,
            false,
            "你没有权限访问",
            "",
        )));
    }
    Ok(Gate::Admin(admin))
}

/// As `gate`, plus the cross-site check for requests that can change something: POSTs, and
/// `del` whatever its method (it also reads ids from the path and query).
async fn gate_change(app: &App, req: &Request, action: Action) -> Result<Gate, AppError> {
    let gate = gate(app, req, action).await?;
    let can_change = req.is_post() || action == Action::Del;
    if let Gate::Admin(_) = &gate
        && can_change
        && let Some(answer) = cross_site_refusal(app, req)
    {
        return Ok(Gate::Answer(answer));
    }
    Ok(gate)
}

/// The refusal for a state-changing request that did not come from our pages.
fn cross_site_refusal(app: &App, req: &Request) -> Option<Response> {
    if guards::is_same_origin_or_ajax(req, &app.config.public_base_url) {
        return None;
    }
    // Browsers put an `Origin` on every cross-site POST (`null` under a no-referrer policy),
    // so a POST with neither header is not a forged browser request; the recorded admin
    // form posts look like that. A GET (`del/ids/15` from an <img>) gets no such pass.
    if req.is_post() && req.header("origin").is_none() && req.header("referer").is_none() {
        return None;
    }
    Some(fastadmin_jump(
        req,
        false,
        "请求来源无效，请在管理后台页面中操作",
        &error_url(req),
    ))
}

macro_rules! admin_or_answer {
    ($gate:expr) => {
        match $gate {
            Gate::Admin(a) => a,
            Gate::Answer(r) => return Ok(r),
        }
    };
}

/// ThinkPHP's `error()` without a URL: back in history for browsers, empty for AJAX.
fn error_url(req: &Request) -> String {
    if req.is_ajax() {
        String::new()
    } else {
        "javascript:history.back(-1);".into()
    }
}

/// ThinkPHP's `success()` without a URL: the Referer, else `/<controller>/<action>.html` as
/// its URL builder made it (`/index/suspend.html` in the recordings).
fn success_url(req: &Request, action: Action) -> String {
    match req.header("referer") {
        Some(r) if r.starts_with("http://") || r.starts_with("https://") => r.to_string(),
        _ => format!("/index/{}.html", action.name().to_lowercase()),
    }
}

/// PHP's `$_POST`: only a POST has one.
fn post_params(req: &Request) -> Result<Params, AppError> {
    if req.is_post() {
        req.post()
    } else {
        Ok(Params::default())
    }
}

/// ThinkPHP's `param()` without the body for non-POST requests: path, then body, then query.
fn param(req: &Request, key: &str) -> Result<Option<String>, AppError> {
    if let Route::Action { path_params, .. } = &req.route
        && let Some((_, v)) = path_params.iter().rev().find(|(k, _)| k == key)
    {
        return Ok(Some(v.clone()));
    }
    if let Some(v) = post_params(req)?.get(key) {
        return Ok(Some(v.to_string()));
    }
    Ok(req.query().get(key).map(str::to_string))
}

fn refused(req: &Request, msg: &str) -> Response {
    fastadmin_jump(req, false, msg, &error_url(req))
}

fn entry(app: &App) -> &str {
    &app.config.admin_entry
}

pub async fn index(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Index).await?);
    if req.is_ajax() {
        // `$this->request->request("filter")`: the body wins over the query string.
        let filter_raw = match post_params(req)?.get("filter") {
            Some(f) => Some(f.to_string()),
            None => req.query().get("filter").map(str::to_string),
        };
        let filter = admin::parse_filter(filter_raw.as_deref());
        let page = admin::parse_page(param(req, "page")?.as_deref());
        return Ok(crate::web::http::json(
            admin::tenant_page(app, &filter, page).await?,
        ));
    }
    let via_entry = matches!(
        req.route,
        Route::Action {
            via_admin_entry: true,
            ..
        }
    );
    // The shell depends only on the path it was served under and the configuration in force.
    let key = if via_entry {
        "admin-index-entry"
    } else {
        "admin-index"
    };
    let page = app.rendered.get_or_render(key, &app.addon(), |addon| {
        let api_base = if via_entry {
            format!("/{}/addons/chathub/index", entry(app))
        } else {
            "/addons/chathub/index".to_string()
        };
        crate::web::pages::admin::index_page(
            entry(app),
            &api_base,
            crate::services::lifecycle::is_on(&addon.expiry),
        )
        .into_string()
        .into()
    });
    Ok(crate::web::http::html(page))
}

pub async fn add(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Add).await?);
    if !req.is_post() {
        return Ok(crate::web::http::html(crate::web::pages::admin::add_page(
            entry(app),
        )));
    }
    // Input errors first: they write nothing, so they need no cross-site check.
    let row = match admin::parse_new_tenant(&post_params(req)?) {
        Ok(row) => row,
        Err(r) => return Ok(refused(req, &r.0)),
    };
    if let Some(answer) = cross_site_refusal(app, req) {
        return Ok(answer);
    }
    admin::add(app, &row).await?;
    let url = format!("/{}/addons/chathub/index/index", entry(app));
    Ok(fastadmin_jump(req, true, "添加成功！", &url))
}

pub async fn del(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate_change(app, req, Action::Del).await?);
    // `post('ids') ?: param('ids')`: the body, then the path (`del/ids/15`) or query.
    let ids = match post_params(req)?
        .get("ids")
        .filter(|v| !v.is_empty() && *v != "0")
    {
        Some(v) => Some(v.to_string()),
        None => param(req, "ids")?,
    };
    match admin::delete(app, ids).await? {
        Ok(_) => Ok(fastadmin_jump(
            req,
            true,
            "删除成功！",
            &success_url(req, Action::Del),
        )),
        Err(r) => Ok(refused(req, &r.0)),
    }
}

pub async fn dashboard(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Dashboard).await?);
    let d = admin::dashboard(app).await?;
    let clock = &app.clock;
    Ok(crate::web::http::html(
        crate::web::pages::admin::dashboard_page(
            entry(app),
            (d.total, d.active, d.pending),
            &d.recent,
            |t| admin::log_time(clock, t, false),
        ),
    ))
}

pub async fn logs(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Logs).await?);
    let page = admin::parse_page(param(req, "page")?.as_deref());
    let rows = admin::logs(app, page).await?;
    let clock = &app.clock;
    Ok(crate::web::http::html(crate::web::pages::admin::logs_page(
        entry(app),
        &rows,
        |t| admin::log_time(clock, t, true),
    )))
}

async fn switch(
    app: &App,
    req: &Request,
    action: Action,
    which: Switch,
) -> Result<Response, AppError> {
    let admin = admin_or_answer!(gate_change(app, req, action).await?);
    // Only the body: the original never bound `?ids=` (golden README bug 28).
    let ids = post_params(req)?.get("ids").map(str::to_string);
    match admin::switch(app, &admin, which, ids).await? {
        Ok(()) => Ok(fastadmin_jump(
            req,
            true,
            which.done(),
            &success_url(req, action),
        )),
        Err(r) => Ok(refused(req, &r.0)),
    }
}

pub async fn suspend(app: &App, req: &Request) -> Result<Response, AppError> {
    switch(app, req, Action::Suspend, Switch::Suspend).await
}

pub async fn activate(app: &App, req: &Request) -> Result<Response, AppError> {
    switch(app, req, Action::Activate, Switch::Activate).await
}

pub async fn set_expire(app: &App, req: &Request) -> Result<Response, AppError> {
    let admin = admin_or_answer!(gate_change(app, req, Action::SetExpire).await?);
    match admin::set_expire(app, &admin, post_params(req)?.form()?).await? {
        Ok(()) => Ok(fastadmin_jump(
            req,
            true,
            "到期时间已设置",
            &success_url(req, Action::SetExpire),
        )),
        Err(r) => Ok(refused(req, &r.0)),
    }
}

/// 查询支付状态: ask the gateways about one order now (COMPAT.md#payment-query-and-expiry).
pub async fn query_pay(app: &App, req: &Request) -> Result<Response, AppError> {
    let admin = admin_or_answer!(gate_change(app, req, Action::QueryPay).await?);
    if !req.is_post() {
        return Ok(crate::web::http::html(
            crate::web::pages::admin::query_pay_page(entry(app)),
        ));
    }
    let order_no = post_params(req)?.get("order").unwrap_or("").to_string();
    match admin::query_pay(app, &admin, &order_no).await? {
        Ok(msg) => Ok(fastadmin_jump(
            req,
            true,
            msg,
            &success_url(req, Action::Logs),
        )),
        Err(r) => Ok(refused(req, &r.0)),
    }
}

/// The orders list (chathub's own, COMPAT.md#refunds): each order's state, refunds, and the
/// 查询支付状态 / 退款 forms.
pub async fn orders(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Orders).await?);
    let page = admin::parse_page(param(req, "page")?.as_deref());
    let (total, lines) = admin::orders(app, page).await?;
    Ok(crate::web::http::html(
        crate::web::pages::admin::orders_page(entry(app), page, total, &lines),
    ))
}

/// 退款: one refund of a paid order, posted by the orders page (COMPAT.md#refunds).
pub async fn refund(app: &App, req: &Request) -> Result<Response, AppError> {
    let admin = admin_or_answer!(gate_change(app, req, Action::Refund).await?);
    if !req.is_post() {
        return Ok(refused(req, "请在订单列表中操作"));
    }
    let form: crate::services::refund::RefundForm = post_params(req)?.form()?;
    let back = format!("/{}/addons/chathub/index/orders", entry(app));
    match crate::services::refund::refund(app, &admin.username, &form).await? {
        Ok(done) => Ok(fastadmin_jump(
            req,
            !matches!(done, crate::services::refund::Refunded::Failed(_)),
            &done.message(),
            &back,
        )),
        Err(msg) => Ok(refused(req, &msg)),
    }
}

/// The reconciliation reports (chathub's own, COMPAT.md#reconciliation).
pub async fn reconcile(app: &App, req: &Request) -> Result<Response, AppError> {
    let _admin = admin_or_answer!(gate(app, req, Action::Reconcile).await?);
    let reports = crate::services::reconcile::latest(app, 60).await?;
    let clock = &app.clock;
    Ok(crate::web::http::html(
        crate::web::pages::admin::reconcile_page(entry(app), &reports, |t| {
            clock.format_epoch(t, "%Y-%m-%d %H:%M:%S")
        }),
    ))
}
