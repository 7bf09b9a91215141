//! chathub: a drop-in replacement for the FastAdmin ChatHub addon.

pub mod admin;
pub mod admin_auth;
pub mod app;
pub mod check;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod devstack;
pub mod error;
pub mod handlers;
pub mod http;
pub mod member;
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
