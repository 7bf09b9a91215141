//! Values parsed once at the boundary into types that cannot hold bad data.

pub mod action;
pub mod channel;
pub mod email;
pub mod ids;
pub mod log;
pub mod money;
pub mod password;
pub mod php;
pub mod php_serialize;
pub mod plan;
pub mod signup_fields;
pub mod tenant;
