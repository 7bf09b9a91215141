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
            AppError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            e => AppError::Database(e),
        }
    }
}

impl From<mysql_async::UrlError> for AppError {
    fn from(e: mysql_async::UrlError) -> Self {
        AppError::Internal(e.to_string())
    }
}
