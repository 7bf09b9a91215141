//! Values parsed once at the boundary into types that cannot hold bad data.

pub mod email;
pub mod password;
pub mod php;
pub mod php_serialize;
pub mod plan;
pub mod signup_fields;
