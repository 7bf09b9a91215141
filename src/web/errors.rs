//! The one place an [`AppError`] becomes what the user sees, and is logged.

use http::StatusCode;

use crate::db::DbHealth;
use crate::error::AppError;
use crate::web::http::{Response, html_status};
use crate::web::pages;

impl AppError {
    /// Log a failed request once, in the one place that does it: causes on our side are
    /// logged per request, a database outage is counted by `health` (one line per outage
    /// and interval, not one per request).
    pub fn report(&self, health: &DbHealth, request_id: &str) {
        match self {
            AppError::DatabaseUnavailable(_) => health.failed(self),
            AppError::DatabaseTimeout(_) => health.timed_out(self),
            e if e.status().is_server_error() => {
                tracing::error!(request_id = %request_id, error = %e, "request failed");
            }
            _ => {}
        }
    }

    /// The response a user sees. Server-side causes stay in the log (see `startup`).
    pub fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            AppError::BadRequest(msg) => pages::fastadmin::error_page("请求无效", msg),
            AppError::PayloadTooLarge => pages::fastadmin::error_page(
                "请求过大",
                "提交的内容超过了允许的大小，请精简后重试。",
            ),
            AppError::NotFound => pages::fastadmin::not_found_page(),
            AppError::Database(_) | AppError::Internal(_) => pages::fastadmin::server_error_page(),
            AppError::DatabaseUnavailable(_) | AppError::DatabaseTimeout(_) => {
                pages::fastadmin::error_page("服务暂时不可用", "系统繁忙，请稍后重试。")
            }
        };
        let mut resp = html_status(status, body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}
