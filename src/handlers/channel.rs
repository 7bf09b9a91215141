//! Channel credentials and reprovision: channelList, channelAuth, channelCallback, reprovision.

use crate::app::App;
use crate::error::AppError;
use crate::http::{Request, Response};

pub async fn channel_list(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("channelList")
}
pub async fn channel_auth(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("channelAuth")
}
pub async fn channel_callback(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("channelCallback")
}
pub async fn reprovision(_app: &App, _req: &Request) -> Result<Response, AppError> {
    super::not_built("reprovision")
}
