//! chathub: a drop-in replacement for the FastAdmin ChatHub addon.

pub mod admin;
pub mod admin_auth;
pub mod app;
pub mod cli;
pub mod clock;
pub mod compat;
pub mod config;
pub mod db;
pub mod error;
pub mod handlers;
pub mod http;
pub mod pages;
pub mod password;
pub mod pay;
pub mod php_serialize;
pub mod provision;
pub mod provision_stub;
pub mod provisioning;
pub mod routing;
pub mod session;
pub mod startup;
pub mod worker;
