//! HTML pages, written with maud. Each page mirrors what the original showed users: the same
//! texts, forms, fields and links; markup and styles are our own.

pub mod admin;
pub mod change_password;
pub mod channels;
pub mod fastadmin;
pub mod landing;
pub mod layout;
pub mod login;
pub mod my;
pub mod pay_wechat;
pub mod register;
pub mod renew;
