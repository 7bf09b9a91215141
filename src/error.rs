//! One error type for every handler, mapped to a response in one place. The user sees a
//! short message in the original's style; the log gets the cause.

use http::StatusCode;

use crate::web::http::{Response, html_status};
use crate::web::pages;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed input the user can fix; the text is shown as is.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    /// No such page: FastAdmin's 404 page.
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Database(mysql_async::Error),
    /// The database did not answer in time, or the connection to it failed: a 503 page
    /// asking to retry. Counted by `DbHealth` instead of logged one line per request.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// The database work did not finish within its bound: a statement that hung (a server
    /// frozen after the checkout) or waited on a row lock past `innodb_lock_wait_timeout`.
    /// The same 503 page; counted by `DbHealth` as a request past its bound, not as an
    /// outage (the database may be answering everyone else).
    #[error("database too slow: {0}")]
    DatabaseTimeout(String),
    /// Anything else that should never happen; the cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        AppError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::DatabaseUnavailable(_) | AppError::DatabaseTimeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// Log a failed request once, in the one place that does it: causes on our side are
    /// logged per request, a database outage is counted by `health` (one line per outage
    /// and interval, not one per request).
    pub fn report(&self, health: &crate::db::DbHealth, request_id: &str) {
        match self {
            AppError::DatabaseUnavailable(_) => health.failed(self),
            AppError::DatabaseTimeout(_) => health.timed_out(self),
            e if e.status().is_server_error() => {
                tracing::error!(request_id = %request_id, error = %e, "request failed");
            }
            _ => {}
        }
    }

    /// As [`AppError::report`], for background work (the provisioning worker): an outage or
    /// a database step past its bound is counted by `health` like a request's, anything else
    /// is a warning that `what` failed.
    pub fn report_background(&self, health: &crate::db::DbHealth, what: &str) {
        match self {
            AppError::DatabaseUnavailable(_) => health.failed(self),
            AppError::DatabaseTimeout(_) => health.timed_out(self),
            e => tracing::warn!(error = %e, "{what} failed"),
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

impl From<mysql_async::Error> for AppError {
    /// A lost or refused connection is the database being away (503), not a bug of ours.
    fn from(e: mysql_async::Error) -> Self {
        use mysql_async::{DriverError, Error};
        match e {
            Error::Io(_) | Error::Driver(DriverError::ConnectionClosed) => {
                AppError::DatabaseUnavailable(e.to_string())
            }
            // Too many connections, per-user connection cap, server shutting down.
            Error::Server(ref s) if matches!(s.code, 1040 | 1203 | 1053) => {
                AppError::DatabaseUnavailable(e.to_string())
            }
            // ER_LOCK_WAIT_TIMEOUT: a row lock held elsewhere past `innodb_lock_wait_timeout`
            // (set per session to at most the request bound; see `db::Db::new`). Only the
            // statement was undone by the server; the caller's transaction is rolled back
            // when it is dropped.
            Error::Server(ref s) if s.code == 1205 => AppError::DatabaseTimeout(e.to_string()),
            e => AppError::Database(e),
        }
    }
}

impl From<mysql_async::UrlError> for AppError {
    fn from(e: mysql_async::UrlError) -> Self {
        AppError::Internal(e.to_string())
    }
}
