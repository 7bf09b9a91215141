//! Public pages: landing, registerPage, register.

use crate::app::App;
use crate::error::AppError;
use crate::http::{Request, Response, html};
use crate::pages;

pub async fn landing(app: &App, _req: &Request) -> Result<Response, AppError> {
    Ok(html(pages::landing::render(&app.addon().site_name)))
}

pub async fn register_page(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("registerPage")
}

pub async fn register(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("register")
}
