//! FastAdmin's `fa_user`: the site's member accounts, shared with FastAdmin itself.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, col_int, col_text};
use crate::error::AppError;

#[derive(Clone, Debug)]
pub struct User {
    pub id: u32,
    pub username: String,
    pub nickname: String,
    pub password: String,
    pub salt: String,
    pub email: String,
    pub status: String,
    pub logintime: Option<i64>,
    pub successions: i64,
    pub loginfailure: i64,
}

const COLUMNS: &str =
    "id, username, nickname, password, salt, email, status, logintime, successions, loginfailure";

impl User {
    fn from_row(row: &Row) -> User {
        User {
            id: col_int(row, "id").unwrap_or_default() as u32,
            username: col_text(row, "username").unwrap_or_default(),
            nickname: col_text(row, "nickname").unwrap_or_default(),
            password: col_text(row, "password").unwrap_or_default(),
            salt: col_text(row, "salt").unwrap_or_default(),
            email: col_text(row, "email").unwrap_or_default(),
            status: col_text(row, "status").unwrap_or_default(),
            logintime: col_int(row, "logintime"),
            successions: col_int(row, "successions").unwrap_or_default(),
            loginfailure: col_int(row, "loginfailure").unwrap_or_default(),
        }
    }

    /// What the member center calls the user: nickname, else username, else email.
    pub fn display_name(&self) -> &str {
        [&self.nickname, &self.username, &self.email]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
            .unwrap_or("")
    }
}

pub async fn find_by_id<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: u32,
) -> Result<Option<User>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM `{}` WHERE id = ?", t.user),
            (id,),
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

pub async fn find_by_email<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    email: &str,
) -> Result<Option<User>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT {COLUMNS} FROM `{}` WHERE email = ? ORDER BY id LIMIT 1",
                t.user
            ),
            (email,),
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}
