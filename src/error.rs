//! One error type for every layer. It is mapped to a response, and logged, in one place
//! (`web::errors`): the user sees a short message in the original's style, the log gets the
//! cause.

use http::StatusCode;

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
