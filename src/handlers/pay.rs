//! Renewal and payments: renew, payAlipay, payWechat, payNotify, payReturn.

use crate::app::App;
use crate::error::AppError;
use crate::http::{Request, Response};

pub async fn renew(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("renew")
}
pub async fn pay_alipay(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("payAlipay")
}
pub async fn pay_wechat(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("payWechat")
}
pub async fn pay_notify(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("payNotify")
}
pub async fn pay_return(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("payReturn")
}
