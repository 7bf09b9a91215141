//! Demo accounts for `cargo dev`: a FastAdmin super-admin and a member, created the way
//! FastAdmin and the addon create them, so every login path can be tried locally.
//! Seeding is idempotent: an existing account is left exactly as it is.

use mysql_async::prelude::*;
use rand::Rng as _;

use chathub::db::Tables;
use chathub::error::AppError;

/// A login to print for the newcomer.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoLogin {
    pub id: u64,
    pub login: String,
    pub password: String,
    /// False when the account already existed (its password may have been changed since).
    pub created: bool,
}

pub const DEMO_ADMIN_USERNAME: &str = "admin";
pub const DEMO_ADMIN_PASSWORD: &str = "chathub-admin-1";
pub const DEMO_MEMBER_EMAIL: &str = "demo@example.com";
pub const DEMO_MEMBER_PASSWORD: &str = "chathub-demo-1";

/// FastAdmin's admin password hash: `md5(md5(password) . salt)`.
pub fn fastadmin_admin_hash(password: &str, salt: &str) -> String {
    let inner = chathub::domain::password::md5_hex(password);
    chathub::domain::password::md5_hex(&format!("{inner}{salt}"))
}

fn random_salt(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The super-admin: a `fa_admin` row (status normal), group 1 with rules `*` and the access
/// row tying them together, as FastAdmin's installer leaves them.
pub async fn seed_admin(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    now: i64,
) -> Result<DemoLogin, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let existing: Option<u64> = tx
        .exec_first(
            format!("SELECT id FROM `{}` WHERE username = ?", t.admin),
            (DEMO_ADMIN_USERNAME,),
        )
        .await?;
    let (id, created) = match existing {
        Some(id) => (id, false),
        None => {
            let salt = random_salt(6);
            tx.exec_drop(
                format!(
                    "INSERT INTO `{}` (username, nickname, password, salt, avatar, email, mobile, \
                     loginfailure, createtime, updatetime, token, status) \
                     VALUES (?, 'Admin', ?, ?, '/assets/img/avatar.png', 'admin@admin.com', '', \
                     0, ?, ?, '', 'normal')",
                    t.admin
                ),
                (
                    DEMO_ADMIN_USERNAME,
                    fastadmin_admin_hash(DEMO_ADMIN_PASSWORD, &salt),
                    &salt,
                    now,
                    now,
                ),
            )
            .await?;
            (tx.last_insert_id().unwrap_or_default(), true)
        }
    };
    tx.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (id, pid, name, rules, createtime, updatetime, status) \
             VALUES (1, 0, 'Admin group', '*', ?, ?, 'normal')",
            t.auth_group
        ),
        (now, now),
    )
    .await?;
    tx.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (uid, group_id) VALUES (?, 1)",
            t.auth_group_access
        ),
        (id,),
    )
    .await?;
    tx.commit().await?;
    Ok(DemoLogin {
        id,
        login: DEMO_ADMIN_USERNAME.into(),
        password: DEMO_ADMIN_PASSWORD.into(),
        created,
    })
}

/// A member as the addon's `register` creates one: email as username, bcrypt password
/// (`$2y$`, PHP's `password_hash`), empty salt, status normal.
pub async fn seed_member(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    now: i64,
) -> Result<DemoLogin, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let existing: Option<u64> = tx
        .exec_first(
            format!(
                "SELECT id FROM `{}` WHERE email = ? ORDER BY id LIMIT 1",
                t.user
            ),
            (DEMO_MEMBER_EMAIL,),
        )
        .await?;
    let (id, created) = match existing {
        Some(id) => (id, false),
        None => {
            let hash = chathub::domain::password::hash(DEMO_MEMBER_PASSWORD)
                .map_err(AppError::internal)?;
            tx.exec_drop(
                format!(
                    "INSERT INTO `{}` (group_id, username, nickname, password, salt, email, \
                     level, joinip, jointime, createtime, updatetime, status) \
                     VALUES (1, ?, 'Demo Member', ?, '', ?, 1, '127.0.0.1', ?, ?, ?, 'normal')",
                    t.user
                ),
                (DEMO_MEMBER_EMAIL, hash, DEMO_MEMBER_EMAIL, now, now, now),
            )
            .await?;
            (tx.last_insert_id().unwrap_or_default(), true)
        }
    };
    tx.commit().await?;
    Ok(DemoLogin {
        id,
        login: DEMO_MEMBER_EMAIL.into(),
        password: DEMO_MEMBER_PASSWORD.into(),
        created,
    })
}

/// Run a `;`-terminated script such as `sql/fastadmin_base.sql` (`__PREFIX__` replaced).
/// Only our own bundled scripts go through here; they hold no `;` inside literals.
pub async fn run_script<Q: Queryable>(
    conn: &mut Q,
    sql: &str,
    prefix: &str,
) -> Result<(), AppError> {
    for stmt in sql.replace("__PREFIX__", prefix).split(";\n") {
        let stmt: String = stmt
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if !stmt.trim().is_empty() {
            conn.query_drop(stmt.trim()).await?;
        }
    }
    Ok(())
}

/// The dev stack's database in its private MariaDB (`name` is our constant, not input).
pub async fn create_database<Q: Queryable>(conn: &mut Q, name: &str) -> Result<(), AppError> {
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .await?;
    Ok(())
}

/// FastAdmin's own tables the addon reads, for a database that has none (the dev stack).
pub const FASTADMIN_BASE_SQL: &str = include_str!("../../../sql/fastadmin_base.sql");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_hash_matches_fastadmin() {
        // md5(md5("123456") . "abc"), FastAdmin's Auth::getEncryptPassword.
        assert_eq!(
            fastadmin_admin_hash("123456", "abc"),
            "322d3fef02fc39251436cb4522d29a71"
        );
    }
}
