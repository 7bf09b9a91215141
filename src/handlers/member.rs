//! Member area: login, doLogin, logout, my, changePassword.

use crate::app::App;
use crate::error::AppError;
use crate::http::{Request, Response};

pub async fn login(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("login")
}
pub async fn do_login(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("doLogin")
}
pub async fn logout(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("logout")
}
pub async fn my(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("my")
}
pub async fn change_password(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("changePassword")
}
