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

/// A member account created by the public sign-up (the original `register`'s `fa_user`
/// insert): every other column keeps FastAdmin's default.
pub struct NewMember<'a> {
    pub email: &'a str,
    pub nickname: &'a str,
    pub password_hash: &'a str,
    pub joinip: &'a str,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertMemberError {
    /// The stock FastAdmin schema (`password`/`username` varchar(32)) cannot hold the row in
    /// strict mode; `chathub migrate` widens it (COMPAT.md#fa-user-column-widths).
    #[error("fa_user column too narrow for the new member (run `chathub migrate`)")]
    ColumnTooNarrow,
    #[error(transparent)]
    Db(#[from] AppError),
}

/// MySQL/MariaDB `ER_DATA_TOO_LONG`.
const ER_DATA_TOO_LONG: u16 = 1406;

pub async fn insert_new_member<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    m: &NewMember<'_>,
) -> Result<u32, InsertMemberError> {
    let result = conn
        .exec_drop(
            format!(
                "INSERT INTO `{}` (username, nickname, email, password, salt, status, jointime, joinip, createtime, updatetime) \
                 VALUES (?, ?, ?, ?, '', 'normal', ?, ?, ?, ?)",
                t.user
            ),
            (m.email, m.nickname, m.email, m.password_hash, m.now, m.joinip, m.now, m.now),
        )
        .await;
    match result {
        Ok(()) => {}
        Err(mysql_async::Error::Server(e)) if e.code == ER_DATA_TOO_LONG => {
            return Err(InsertMemberError::ColumnTooNarrow);
        }
        Err(e) => return Err(InsertMemberError::Db(e.into())),
    }
    let id: Option<u64> = conn
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .map_err(AppError::from)?;
    id.and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| InsertMemberError::Db(AppError::internal("no id for the new member")))
}

/// Serialise sign-ups of one email address across requests and processes (FastAdmin has no
/// unique key on `fa_user.email`): a MySQL named lock, scoped to this database. `Ok(false)`
/// when the lock was not obtained within `timeout_secs`. Connection-scoped: release it on
/// the same connection with [`unlock_email`].
pub async fn lock_email(
    conn: &mut mysql_async::Conn,
    email: &str,
    timeout_secs: u32,
) -> Result<bool, AppError> {
    let got: Option<Option<i64>> = conn
        .exec_first(
            "SELECT GET_LOCK(CONCAT('chathub_signup_', MD5(CONCAT(DATABASE(), '|', LOWER(?)))), ?)",
            (email, timeout_secs),
        )
        .await?;
    Ok(got.flatten() == Some(1))
}

pub async fn unlock_email(conn: &mut mysql_async::Conn, email: &str) -> Result<(), AppError> {
    conn.exec_drop(
        "SELECT RELEASE_LOCK(CONCAT('chathub_signup_', MD5(CONCAT(DATABASE(), '|', LOWER(?)))))",
        (email,),
    )
    .await?;
    Ok(())
}
