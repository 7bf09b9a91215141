//! Values parsed once at the boundary into types that cannot hold bad data.

pub mod email;
pub mod plan;
pub mod signup_fields;
