//! FastAdmin admin actions: index, add, del, dashboard, logs, suspend, activate, setExpire.

use crate::app::App;
use crate::error::AppError;
use crate::http::{Request, Response};

pub async fn index(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn add(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn del(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn dashboard(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn logs(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn suspend(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn activate(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
pub async fn set_expire(_app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(super::login_required(req))
}
