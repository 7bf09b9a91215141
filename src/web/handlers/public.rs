//! Public pages: landing, registerPage, register.

use http::{Method, header};

use crate::domain::php::{Params, php_json_encode};
use crate::domain::plan::Plan;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::sessions::SessionData;
use crate::services::signup::{self, Registration, SignedInMember, SignupError, SignupForm};
use crate::web::http::{Request, Response, html, php_exit};
use crate::web::pages;

pub async fn landing(app: &App, _req: &Request) -> Result<Response, AppError> {
    let page = app
        .rendered
        .get_or_render("landing", &app.addon(), |addon| {
            pages::landing::render(&addon.site_name)
                .into_string()
                .into()
        });
    Ok(html(page))
}

/// The sign-up form. `?plan=` preselects one of the three plans (anything else: basic).
///
/// The original started a PHP session here (its `_initialize` missed this action, golden
/// README bug 13), so the page always came with a session cookie and PHP's no-cache
/// headers. We hand out our own session cookie the same way: an anonymous session carrying
/// a CSRF token, or the member's session refreshed.
pub async fn register_page(app: &App, req: &Request) -> Result<Response, AppError> {
    let plan = req
        .query()
        .get("plan")
        .and_then(Plan::known)
        .unwrap_or(Plan::Basic);
    let mut resp = html(pages::register::form_page(&app.addon().site_name, &plan));
    let now = app.clock.epoch();
    let session = match app.sessions.read(req, now) {
        None => Some(SessionData::anonymous(now)),
        Some(mut s) if s.needs_refresh(now) => {
            s.seen = now;
            Some(s)
        }
        Some(_) => None,
    };
    if let Some(s) = session {
        resp.headers_mut()
            .append(header::SET_COOKIE, app.sessions.set_cookie(&s, req.https));
    }
    Ok(crate::web::session::no_store(resp))
}

/// `register`: the public sign-up endpoint, also called cross-origin by sites embedding a
/// sign-up form, hence the CORS headers on every answer (errors included).
pub async fn register(app: &App, req: &Request) -> Result<Response, AppError> {
    let started = tokio::time::Instant::now();
    let resp = match register_answer(app, req, started).await {
        Ok(r) => r,
        Err(e) => {
            e.report(&app.db.health, &req.id);
            e.into_response()
        }
    };
    Ok(with_cors(resp))
}

async fn register_answer(
    app: &App,
    req: &Request,
    started: tokio::time::Instant,
) -> Result<Response, AppError> {
    if req.method == Method::OPTIONS {
        return Ok(php_exit(r#"{"code":1}"#));
    }
    let wants_json = req.is_ajax() || req.content_type().to_ascii_lowercase().contains("json");
    let form = match signup_input(req).and_then(|p| SignupForm::parse(&p)) {
        Ok(f) => f,
        Err(e) => return refusal(wants_json, e),
    };
    let member = app
        .sessions
        .read(req, app.clock.epoch())
        .and_then(|s| s.uid.map(|uid| SignedInMember { uid, pwfp: s.pwfp }));
    match signup::register(app, form, member, req.client_ip, started).await {
        Ok(reg) if wants_json => Ok(registration_json(&reg)),
        Ok(reg) => Ok(registration_page(app, &reg)),
        Err(e) => refusal(wants_json, e),
    }
}

/// The original read the raw body as JSON when `json_decode` gave something truthy, else
/// ThinkPHP's `post()` (form fields, or a JSON body by content type).
fn signup_input(req: &Request) -> Result<Params, SignupError> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&req.body)
        && php_truthy(&v)
    {
        // A truthy non-object (`[1]`, `"x"`, `5`) has no fields: "please fill in".
        return Ok(Params::from_json(&v).unwrap_or_default());
    }
    req.post().map_err(|e| match e {
        AppError::BadRequest(msg) => SignupError::Input(msg),
        other => SignupError::Internal(other),
    })
}

fn php_truthy(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A refused sign-up: `{"code":0,"msg":…}` or the failure page. Server-side failures go
/// back to the caller as errors (logged, generic page).
fn refusal(wants_json: bool, e: SignupError) -> Result<Response, AppError> {
    let msg = match e {
        SignupError::Internal(inner) => return Err(inner),
        SignupError::MissingFields if !wants_json => {
            "请填写必填字段（公司名称、邮箱、网站域名）".to_string()
        }
        other => other.to_string(),
    };
    if wants_json {
        let body = serde_json::json!({"code": 0, "msg": msg});
        Ok(crate::web::http::json(php_json_encode(&body)))
    } else {
        Ok(php_exit(pages::register::result_page(false, &msg, None)))
    }
}

/// The original's `_registerJson`, keys in its order, PHP's default escaping.
fn registration_json(reg: &Registration) -> Response {
    let body = serde_json::json!({
        "code": 1,
        "msg": reg.outcome.message(),
        "company_name": reg.form.company_name.as_str(),
        "plan": reg.form.plan.as_str(),
        "price": reg.pricing.monthly_price,
        "seats": reg.pricing.seats,
        "embed_code": reg.outcome.embed_code(),
        "initial_password": reg.initial_password,
        "expire_at": reg.expire_date(),
    });
    crate::web::http::json(php_json_encode(&body))
}

fn registration_page(app: &App, reg: &Registration) -> Response {
    // The original printed "+30 days" from the moment the page was rendered.
    let expire_date = app
        .clock
        .format_epoch(app.clock.epoch() + 30 * 86_400, "%Y-%m-%d");
    let details = pages::register::ResultDetails {
        company_name: reg.form.company_name.as_str(),
        plan: &reg.form.plan,
        price: reg.pricing.monthly_price,
        seats: reg.pricing.seats,
        expire_date: &expire_date,
        embed_code: reg.outcome.embed_code(),
        initial_password: reg.initial_password.as_deref(),
        login_email: reg.form.email.as_str(),
    };
    php_exit(pages::register::result_page(
        true,
        reg.outcome.message(),
        Some(&details),
    ))
}

fn with_cors(mut resp: Response) -> Response {
    crate::web::http::set_headers(
        resp.headers_mut(),
        &[
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"),
        ],
    );
    resp
}
