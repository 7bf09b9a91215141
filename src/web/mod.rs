//! Web: requests in, responses out. ThinkPHP's URL rules, PHP-style request parsing, the
//! member cookie, the handlers (parse, call one service, render) and the pages.

pub mod errors;
pub mod guards;
pub mod handlers;
pub mod http;
pub mod pages;
pub mod routing;
pub mod session;
