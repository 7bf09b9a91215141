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

/// The demo member's tenants, one in each state the member and admin pages know:
/// `(name, domain, status, days until expiry, provisioned, plan)`.
type DemoTenant = (
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    bool,
    &'static str,
);
const DEMO_TENANTS: [DemoTenant; 7] = [
    ("Demo Shop", "demo-shop", "active", Some(200), true, "pro"),
    (
        "Demo Expiring",
        "demo-expiring",
        "active",
        Some(3),
        true,
        "basic",
    ),
    (
        "Demo Expired",
        "demo-expired",
        "active",
        Some(-5),
        true,
        "basic",
    ),
    (
        "Demo Suspended",
        "demo-suspended",
        "suspended",
        Some(60),
        true,
        "pro",
    ),
    (
        "Demo Provisioning",
        "demo-provisioning",
        "provisioning",
        Some(30),
        false,
        "basic",
    ),
    (
        "Demo Pending",
        "demo-pending",
        "pending",
        None,
        false,
        "basic",
    ),
    (
        "Demo Disabled",
        "demo-disabled",
        "disabled",
        Some(-40),
        true,
        "enterprise",
    ),
];

fn plan_price(plan: &str) -> (i64, u32) {
    match plan {
        "pro" => (60, 3),
        "enterprise" => (120, 10),
        _ => (50, 1),
    }
}

/// The demo member's tenants in every state, with orders and log rows, unless the member
/// owns tenants already (seeding never touches what a newcomer made). Returns how many
/// were created.
pub async fn seed_member_tenants(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    member: &DemoLogin,
    clock: &chathub::clock::Clock,
) -> Result<usize, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let owned: Option<u64> = tx
        .exec_first(
            format!("SELECT COUNT(*) FROM `{}` WHERE user_id = ?", t.tenant),
            (member.id,),
        )
        .await?;
    if owned.unwrap_or(0) > 0 {
        return Ok(0);
    }
    let now = clock.epoch();
    let local = |days: i64| {
        (clock.now() + chrono::Duration::days(days))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    for (i, (name, domain, status, days, provisioned, plan)) in DEMO_TENANTS.iter().enumerate() {
        let (price, seats) = plan_price(plan);
        let n = i as i64 + 1;
        let embed = provisioned.then(|| {
            format!(
                "<script>window.chatwootSettings={{}};/* demo inbox {n} */\
                 (function(d,t){{var BASE_URL=\"https://chat.example.com\";}})(document,\"script\");</script>"
            )
        });
        tx.exec_drop(
            format!(
                "INSERT INTO `{}` (user_id, tenant_name, domain, email, inbox_id, inbox_token, \
                 team_id, agent_cw_id, max_agents, channel_type, status, config, embed_code, \
                 provisioned_at, expire_at, createtime, updatetime) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'web_widget', ?, ?, ?, ?, ?, ?, ?)",
                t.tenant
            ),
            mysql_async::Params::Positional(vec![
                member.id.into(),
                name.into(),
                domain.into(),
                member.login.as_str().into(),
                provisioned.then_some(100 + n).into(),
                provisioned.then(|| format!("demo-inbox-token-{n}")).into(),
                provisioned.then_some(200 + n).into(),
                provisioned.then_some(300 + n).into(),
                seats.into(),
                status.into(),
                format!(r#"{{"plan":"{plan}","price":{price}}}"#).into(),
                embed.into(),
                provisioned.then(|| local(-90)).into(),
                days.map(local).into(),
                (now - 90 * 86400).into(),
                now.into(),
            ]),
        )
        .await?;
        let tenant_id = tx.last_insert_id().unwrap_or_default();
        let history = History {
            tenant_id,
            status,
            plan,
            now,
            paid_at: local(-60),
        };
        seed_history(&mut tx, t, member, &history).await?;
    }
    tx.commit().await?;
    Ok(DEMO_TENANTS.len())
}

/// A tenant's past: its registration, a paid order (a pending one for the unpaid tenant),
/// the admin's action for a stopped one, a retry schedule for the one being provisioned.
struct History<'a> {
    tenant_id: u64,
    status: &'a str,
    plan: &'a str,
    now: i64,
    /// Site-local `Y-m-d H:i:s`, as the webhook writes `paid_at`.
    paid_at: String,
}

async fn seed_history(
    tx: &mut mysql_async::Transaction<'_>,
    t: &Tables,
    member: &DemoLogin,
    h: &History<'_>,
) -> Result<(), AppError> {
    let (tenant_id, status, plan, now) = (h.tenant_id, h.status, h.plan, h.now);
    let (price, _) = plan_price(plan);
    let log = format!(
        "INSERT INTO `{}` (tenant_id, action, detail, status, operator, createtime) \
         VALUES (?, ?, ?, ?, ?, ?)",
        t.log
    );
    tx.exec_drop(
        &log,
        (
            tenant_id,
            "register",
            format!("demo tenant, plan {plan}"),
            "success",
            &member.login,
            now - 90 * 86400,
        ),
    )
    .await?;
    let paid = status != "pending";
    let order_no = format!("CHDEMO{tenant_id:04}{}", if paid { "P" } else { "U" });
    let method = if tenant_id % 2 == 0 {
        "wechat"
    } else {
        "alipay"
    };
    tx.exec_drop(
        format!(
            "INSERT INTO `{}` (order_no, tenant_id, user_id, plan, amount, pay_method, \
             pay_trade_no, status, paid_at, createtime, updatetime) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            t.order
        ),
        (
            &order_no,
            tenant_id,
            member.id,
            plan,
            format!("{price}.00"),
            paid.then_some(method),
            paid.then(|| format!("T-{order_no}")),
            if paid { "paid" } else { "pending" },
            paid.then(|| h.paid_at.clone()),
            now - 60 * 86400,
            now - 60 * 86400,
        ),
    )
    .await?;
    if paid {
        tx.exec_drop(
            &log,
            (
                tenant_id,
                format!("pay_notify_{method}"),
                format!("order {order_no} paid (demo)"),
                "success",
                "system",
                now - 60 * 86400,
            ),
        )
        .await?;
    }
    match status {
        "suspended" => {
            tx.exec_drop(
                &log,
                (
                    tenant_id,
                    "suspend",
                    "demo",
                    "success",
                    DEMO_ADMIN_USERNAME,
                    now - 86400,
                ),
            )
            .await?;
        }
        "provisioning" => {
            // As after a provision-server outage: three failures, the next try tomorrow,
            // so the state stays visible until then (or the member's 重新开通).
            tx.exec_drop(
                &log,
                (
                    tenant_id,
                    "reprovision",
                    "demo: provision server unreachable",
                    "failed",
                    "system",
                    now - 3600,
                ),
            )
            .await?;
            tx.exec_drop(
                format!(
                    "INSERT INTO `{}` (tenant_id, failures, next_attempt_at, updatetime) VALUES (?, 3, ?, ?)",
                    t.provision_state
                ),
                (tenant_id, now + 86400, now),
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Everything `dev --reset` removes before seeding again: the demo member's tenants, their
/// orders, logs and schedules (other accounts' rows stay).
pub async fn remove_member_tenants(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    member_id: u64,
) -> Result<(), AppError> {
    let ids = format!("SELECT id FROM `{}` WHERE user_id = {member_id}", t.tenant);
    for table in [&t.log, &t.order, &t.provision_state] {
        conn.query_drop(format!("DELETE FROM `{table}` WHERE tenant_id IN ({ids})"))
            .await?;
    }
    conn.query_drop(format!(
        "DELETE FROM `{}` WHERE user_id = {member_id}",
        t.tenant
    ))
    .await?;
    Ok(())
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
