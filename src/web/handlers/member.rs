//! Member area: login, doLogin, logout, my, changePassword.

use crate::domain::php::Params;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::member::{self, Credentials, Flash, PasswordChange, PasswordForm, SignIn};
use crate::services::sessions::SessionData;
use crate::web::guards;
use crate::web::http::{Request, Response, html, redirect};
use crate::web::pages;
use crate::web::session::no_store;

/// Original `login`: signed in → `my`; otherwise the form, with `?error=` (GET only). The
/// form comes with a pre-session (an anonymous session cookie) whose token it carries.
pub async fn login(app: &App, req: &Request) -> Result<Response, AppError> {
    if guards::has_session(app, req).await? {
        return Ok(no_store(redirect(member::MY_URL)));
    }
    let error = req
        .query()
        .get("error")
        .filter(|e| !e.is_empty() && *e != "0");
    let now = app.clock.epoch();
    let pre_session = app
        .sessions
        .read(req, now)
        .filter(|s| s.uid.is_none())
        .unwrap_or_else(|| SessionData::anonymous(now));
    let page = html(pages::login::render(
        &app.addon().site_name,
        error,
        &pre_session.csrf,
    ));
    let mut fresh = pre_session;
    fresh.seen = now;
    Ok(no_store(app.sessions.with_session(page, &fresh, req.https)))
}

/// Whether a sign-in request may be acted on (login CSRF, COMPAT.md#login-csrf): it carries
/// the token of our login form's pre-session, or nothing shows it came from another site.
fn sign_in_request_is_ours(app: &App, req: &Request, form: &Params) -> bool {
    let token_matches = form.get("__token__").is_some_and(|token| {
        app.sessions
            .read(req, app.clock.epoch())
            .is_some_and(|s| s.csrf_matches(token))
    });
    token_matches || !guards::shows_cross_site(req, &app.config.public_base_url)
}

/// Original `doLogin`: form or JSON body (ThinkPHP's `post()`), 302 to `my` with a brand
/// new session, or back to `login?error=…`.
pub async fn do_login(app: &App, req: &Request) -> Result<Response, AppError> {
    // A body that does not parse is treated as an empty form, as PHP would see it.
    let form = req.post().unwrap_or_default();
    if !sign_in_request_is_ours(app, req, &form) {
        tracing::warn!(request_id = %req.id, "sign-in refused: request from another site");
        return Ok(no_store(redirect(&member::login_error_url(
            member::MSG_STALE_FORM,
        ))));
    }
    let Some(creds) = Credentials::parse(form.form()?) else {
        return Ok(no_store(redirect(&member::login_error_url(
            "请填写邮箱和密码",
        ))));
    };
    match member::sign_in(app, &creds, req.client_ip).await? {
        SignIn::Refused => Ok(no_store(redirect(&member::login_error_url(
            "邮箱或密码错误",
        )))),
        SignIn::Accepted(user) => {
            let session = member::new_session(&user, app.clock.epoch());
            Ok(no_store(app.sessions.with_session(
                redirect(member::MY_URL),
                &session,
                req.https,
            )))
        }
    }
}

/// Original `logout`: ends our session only (FastAdmin's `PHPSESSID`/`keeplogin` are the
/// admin panel's), then the landing page. The session is revoked in the database, so a
/// copy of the cookie is worthless too. A logout another site triggered (a link or redirect
/// to this URL) is ignored (COMPAT.md#logout-same-site): the member is sent to `my`, still
/// signed in.
pub async fn logout(app: &App, req: &Request) -> Result<Response, AppError> {
    if guards::shows_cross_site(req, &app.config.public_base_url) {
        tracing::info!(request_id = %req.id, "logout from another site ignored");
        return Ok(no_store(redirect(member::MY_URL)));
    }
    let resp = no_store(redirect(member::LANDING_URL));
    crate::web::session::retire_php_session(app, req).await?;
    if req.cookie(crate::services::sessions::COOKIE_NAME).is_some() {
        guards::end_session(app, req).await?;
        return Ok(app.sessions.without_session(resp, req.https));
    }
    Ok(resp)
}

/// Original `my`: the member center.
pub async fn my(app: &App, req: &Request) -> Result<Response, AppError> {
    let member = match guards::require_member(app, req).await {
        Ok(m) => m,
        Err(resp) => return Ok(resp),
    };
    let flash = Flash::from_params(|k| req.param(k).ok().flatten().unwrap_or_default());
    let overview = member::overview(app, &member).await?;
    let page = pages::my::render(&pages::my::MyPage {
        site_name: &app.addon().site_name,
        nick: member.display_name(),
        csrf: member.csrf(),
        flash: flash.as_ref(),
        overview: &overview,
    });
    Ok(no_store(html(page)))
}

/// Original `changePassword`: the form, and on POST the original's checks plus a CSRF
/// token; success re-issues this session and ends every other one.
pub async fn change_password(app: &App, req: &Request) -> Result<Response, AppError> {
    let member = match guards::require_member(app, req).await {
        Ok(m) => m,
        Err(resp) => return Ok(resp),
    };
    let site = app.addon();
    if !req.is_post() {
        return Ok(no_store(html(pages::change_password::render(
            &site.site_name,
            member.csrf(),
            None,
        ))));
    }
    // As in doLogin, a body that does not parse reads as an empty form.
    let form: PasswordForm = req.post().unwrap_or_default().form()?;
    use pages::change_password::Notice;
    let resp = match member::change_password(app, &member, &form).await? {
        PasswordChange::Refused(msg) => html(pages::change_password::render(
            &site.site_name,
            member.csrf(),
            Some(Notice::Error(msg)),
        )),
        PasswordChange::Changed(session) => app.sessions.with_session(
            html(pages::change_password::render(
                &site.site_name,
                &session.csrf,
                Some(Notice::Success(member::MSG_CHANGED)),
            )),
            &session,
            req.https,
        ),
    };
    Ok(no_store(resp))
}
