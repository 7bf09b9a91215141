//! Migration toolkit: the golden suite's comparison (page facts, masks, table dumps) as a
//! library, plus `cargo compat record | diff | shadow` for testers proving the switch on
//! their own site (README "Switching a site over", step 3).
//!
//! `tests/compat` (the fixture replay runner) and the `cargo compat` subcommands share every
//! piece here, so a difference the suite reports is the difference a tester's diff reports.

pub mod catalogue;
pub mod cli;
pub mod compare;
pub mod dbstate;
pub mod deviations;
pub mod diff;
pub mod exchange;
pub mod normalize;
pub mod php_session;
pub mod pictures;
pub mod record;
pub mod report;
pub mod shadow;
pub mod site_backup;

/// What can stop a toolkit command. The message names the step; no secret is ever part of it
/// (database URLs are shown without their password).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("database: {0}")]
    Db(String),
    #[error("{0}")]
    Io(String),
    #[error("http: {0}")]
    Http(String),
    #[error("format: {0}")]
    Format(String),
    #[error("usage: {0}")]
    Usage(String),
}

impl From<std::io::Error> for ToolError {
    fn from(e: std::io::Error) -> Self {
        ToolError::Io(e.to_string())
    }
}

/// A database URL fit for a message: `mysql://user:secret@host/db` -> `mysql://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}
