//! One error type for every handler, mapped to a response in one place. The user sees a
//! short message in the original's style; the log gets the cause.

use http::StatusCode;

use crate::http::{Response, html_status};
use crate::pages;

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
    Database(#[from] mysql_async::Error),
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
        };
        html_status(status, body)
    }
}

impl From<mysql_async::UrlError> for AppError {
    fn from(e: mysql_async::UrlError) -> Self {
        AppError::Internal(e.to_string())
    }
}
