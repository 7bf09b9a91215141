//! Services: the use cases. Every database write and every call to the outside happens
//! here, on behalf of a handler, the worker or a sweeper.

pub mod admin;
pub mod admin_auth;
pub mod app;
pub mod channels;
pub mod lifecycle;
pub mod member;
pub mod pay_keys;
pub mod pay_query;
pub mod payments;
pub mod php_session;
pub mod provisioning;
pub mod reconcile;
pub mod refund;
pub mod sessions;
pub mod signup;
pub mod signup_gate;
pub mod worker;
