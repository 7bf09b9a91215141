//! `chathub migrate` against real MariaDB from each starting point a site can be at.

use crate::support::{TestDb, column_type};
use chathub::db::schema;
use mysql_async::prelude::*;

/// The original's tenant table before v1.6 (its MIGRATIONS.md): no user_id, team_id,
/// max_agents, expire_at, idx_user_id; two channel types, four statuses.
const PRE_V16_TENANT: &str = "CREATE TABLE `fa_chathub_tenant` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `tenant_name` varchar(100) NOT NULL DEFAULT '' COMMENT '租户名称',
  `domain` varchar(255) NOT NULL DEFAULT '' COMMENT '域名',
  `email` varchar(255) NOT NULL DEFAULT '' COMMENT 'Chatwoot登录邮箱',
  `inbox_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Inbox ID',
  `inbox_token` varchar(100) DEFAULT NULL COMMENT 'Chatwoot Inbox Token',
  `agent_id` varchar(100) DEFAULT NULL COMMENT 'QwenPaw Agent ID',
  `agent_cw_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Agent用户ID',
  `agent_cw_password` varchar(100) DEFAULT NULL COMMENT 'Chatwoot初始密码',
  `agent_name` varchar(100) DEFAULT NULL COMMENT 'QwenPaw Agent 名称',
  `channel_type` enum('web_widget','api') NOT NULL DEFAULT 'web_widget' COMMENT '通道类型',
  `status` enum('pending','active','suspended','disabled') NOT NULL DEFAULT 'pending' COMMENT '状态',
  `config` text COMMENT '配置JSON',
  `embed_code` text COMMENT '嵌入代码',
  `api_credentials` text COMMENT 'API凭据JSON',
  `provisioned_at` datetime DEFAULT NULL COMMENT '开通时间',
  `last_active_at` datetime DEFAULT NULL COMMENT '最后活跃时间',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  `updatetime` int(10) DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  KEY `idx_domain` (`domain`),
  KEY `idx_status` (`status`),
  KEY `idx_inbox_id` (`inbox_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub租户表'";

/// Before v1.6 the log's tenant_id had no default (system rows could not be written).
const PRE_V16_LOG: &str = "CREATE TABLE `fa_chathub_log` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `action` varchar(50) NOT NULL DEFAULT '' COMMENT '操作类型',
  `detail` text COMMENT '操作详情',
  `status` enum('success','failed') NOT NULL DEFAULT 'success' COMMENT '状态',
  `operator` varchar(100) DEFAULT NULL COMMENT '操作人',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  PRIMARY KEY (`id`),
  KEY `idx_tenant_id` (`tenant_id`),
  KEY `idx_action` (`action`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub操作日志表'";

/// tenant_name, channel_type, status, config, user_id, max_agents, expire_at, provisioned_at
type TenantSnapshot = (
    String,
    String,
    String,
    Option<String>,
    Option<u32>,
    u32,
    Option<String>,
    String,
);

const FASTADMIN_BASE: &str = include_str!("../../sql/fastadmin_base.sql");

async fn tables(db: &TestDb) -> Vec<String> {
    let mut c = db.conn().await;
    c.exec(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        (&db.name,),
    )
    .await
    .unwrap()
}

async fn show_create(db: &TestDb, table: &str) -> String {
    let mut c = db.conn().await;
    let row: Option<(String, String)> = c
        .query_first(format!("SHOW CREATE TABLE `{table}`"))
        .await
        .unwrap();
    row.unwrap().1
}

/// What every test ends with: the schema matches install.sql and a second run changes nothing.
async fn assert_current_and_idempotent(db: &TestDb) {
    let mut c = db.conn().await;
    let live = schema::inspect(&mut c, "fa_").await.unwrap();
    assert_eq!(schema::verify(&live, "fa_"), Vec::<String>::new());
    let again = schema::migrate(&mut c, "fa_", false).await.unwrap();
    assert!(
        again.is_noop(),
        "second run must be a no-op: {:?}",
        again.steps
    );
    assert!(again.unresolved.is_empty(), "{:?}", again.unresolved);
}

#[tokio::test]
async fn empty_database_gets_the_addon_tables() {
    let db = TestDb::empty().await;
    let mut c = db.conn().await;
    let plan = schema::migrate(&mut c, "fa_", false).await.unwrap();
    assert_eq!(plan.steps.len(), 13, "{:?}", plan.steps);
    assert_eq!(
        tables(&db).await,
        [
            "fa_chathub_channel_account",
            "fa_chathub_gateway_log",
            "fa_chathub_lifecycle",
            "fa_chathub_log",
            "fa_chathub_login_throttle",
            "fa_chathub_order",
            "fa_chathub_pay_cert",
            "fa_chathub_pay_query",
            "fa_chathub_provision_state",
            "fa_chathub_reconcile",
            "fa_chathub_refund",
            "fa_chathub_session_revoked",
            "fa_chathub_tenant"
        ]
    );
    // Same definition as install.sql, comments included.
    let tenant = show_create(&db, "fa_chathub_tenant").await;
    assert!(tenant.contains("COMMENT='ChatHub租户表'"), "{tenant}");
    assert!(tenant.contains("'pending','provisioning','active','suspended','disabled'"));
    assert_current_and_idempotent(&db).await;
}

#[tokio::test]
async fn the_table_prefix_is_applied() {
    let db = TestDb::empty().await;
    let mut c = db.conn().await;
    schema::migrate(&mut c, "zz_", false).await.unwrap();
    let names = tables(&db).await;
    assert!(
        names.iter().all(|n| n.starts_with("zz_chathub_")),
        "{names:?}"
    );
    assert_eq!(names.len(), 13);
    let live = schema::inspect(&mut c, "zz_").await.unwrap();
    assert!(schema::verify(&live, "zz_").is_empty());
}

#[tokio::test]
async fn pre_v16_schema_is_upgraded_without_touching_rows() {
    let db = TestDb::empty().await;
    db.run_sql(FASTADMIN_BASE).await;
    let mut c = db.conn().await;
    c.query_drop(PRE_V16_TENANT).await.unwrap();
    c.query_drop(PRE_V16_LOG).await.unwrap();
    c.query_drop(
        "INSERT INTO fa_chathub_tenant (id, tenant_name, domain, email, inbox_id, channel_type, status, config, embed_code, provisioned_at, createtime)
         VALUES (7, 'Old Shop', 'old.example.com', 'old@example.com', 42, 'api', 'suspended', '{\"plan\":\"pro\"}', '<script>x</script>', '2025-01-02 03:04:05', 1700000000)",
    )
    .await
    .unwrap();
    c.query_drop(
        "INSERT INTO fa_chathub_log (id, tenant_id, action, detail, status, operator, createtime)
         VALUES (3, 7, 'register', '注册', 'success', 'old@example.com', 1700000001)",
    )
    .await
    .unwrap();

    let plan = schema::migrate(&mut c, "fa_", false).await.unwrap();
    let script = plan.script();
    for expected in [
        "ADD COLUMN `user_id` int(11) unsigned DEFAULT NULL COMMENT 'fa_user.id (创建者)' AFTER `id`",
        "ADD COLUMN `team_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Team ID' AFTER `inbox_token`",
        "ADD COLUMN `max_agents` int(11) NOT NULL DEFAULT 3 COMMENT '最大坐席数' AFTER `agent_name`",
        "ADD COLUMN `expire_at` datetime DEFAULT NULL COMMENT '到期时间' AFTER `provisioned_at`",
        "ADD KEY `idx_user_id` (`user_id`)",
        "MODIFY COLUMN `channel_type` enum('web_widget','api','amazon','jd','taobao','pdd','tiktok')",
        "MODIFY COLUMN `status` enum('pending','provisioning','active','suspended','disabled')",
        "MODIFY COLUMN `tenant_id` int(11) unsigned NOT NULL DEFAULT 0",
        "CREATE TABLE IF NOT EXISTS `fa_chathub_order`",
        "CREATE TABLE IF NOT EXISTS `fa_chathub_channel_account`",
        "CREATE TABLE IF NOT EXISTS `fa_chathub_gateway_log`",
    ] {
        assert!(
            script.contains(expected),
            "missing {expected:?} in\n{script}"
        );
    }
    assert!(!script.contains("DROP"), "{script}");

    // Rows intact, new columns at their defaults.
    let row: TenantSnapshot = c
        .query_first(
            "SELECT tenant_name, channel_type, status, config, user_id, max_agents, expire_at, CAST(provisioned_at AS CHAR) FROM fa_chathub_tenant WHERE id = 7",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row,
        (
            "Old Shop".into(),
            "api".into(),
            "suspended".into(),
            Some("{\"plan\":\"pro\"}".into()),
            None,
            3,
            None,
            "2025-01-02 03:04:05".into()
        )
    );
    let log: (u32, String, String) = c
        .query_first("SELECT tenant_id, action, detail FROM fa_chathub_log WHERE id = 3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log, (7, "register".into(), "注册".into()));

    // The new enum values and the system log row (tenant 0 by default) are now storable.
    c.query_drop("UPDATE fa_chathub_tenant SET status = 'provisioning', channel_type = 'taobao' WHERE id = 7")
        .await
        .unwrap();
    c.query_drop("INSERT INTO fa_chathub_log (action, createtime) VALUES ('system', 1)")
        .await
        .unwrap();
    // Columns land where install.sql puts them.
    let order: Vec<String> = c
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'fa_chathub_tenant' ORDER BY ORDINAL_POSITION",
            (&db.name,),
        )
        .await
        .unwrap();
    let expected: Vec<String> = schema::expected_tables()[0]
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(order, expected);
    assert_current_and_idempotent(&db).await;
}

#[tokio::test]
async fn current_schema_is_left_alone() {
    let db = TestDb::with_schema().await;
    let mut c = db.conn().await;
    // with_schema has the stock fa_user: widen it first, then nothing is left to do.
    schema::migrate(&mut c, "fa_", false).await.unwrap();
    let before = show_create(&db, "fa_chathub_tenant").await;
    let plan = schema::migrate(&mut c, "fa_", false).await.unwrap();
    assert!(plan.is_noop(), "{:?}", plan.steps);
    assert_eq!(show_create(&db, "fa_chathub_tenant").await, before);
}

#[tokio::test]
async fn dry_run_prints_sql_and_changes_nothing() {
    let db = TestDb::empty().await;
    db.run_sql(FASTADMIN_BASE).await;
    let mut c = db.conn().await;
    c.query_drop(PRE_V16_TENANT).await.unwrap();
    let before_tables = tables(&db).await;
    let before_tenant = show_create(&db, "fa_chathub_tenant").await;

    let out = std::process::Command::new(crate::support::CHATHUB_BIN)
        .args(["migrate", "--dry-run"])
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ALTER TABLE `fa_chathub_tenant`"),
        "{stdout}"
    );
    assert!(stdout.contains("ADD COLUMN `user_id`"), "{stdout}");
    assert!(
        stdout.contains("CREATE TABLE IF NOT EXISTS `fa_chathub_log`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MODIFY COLUMN `password` varchar(255)"),
        "{stdout}"
    );

    assert_eq!(tables(&db).await, before_tables);
    assert_eq!(show_create(&db, "fa_chathub_tenant").await, before_tenant);
    assert_eq!(
        column_type(&db, "fa_user", "password").await.as_deref(),
        Some("varchar(32)")
    );

    // The real run, through the binary too, then a no-op.
    let run = |args: &[&str]| {
        std::process::Command::new(crate::support::CHATHUB_BIN)
            .args(args)
            .env_clear()
            .env("CHATHUB_DATABASE_URL", &db.url)
            .env("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET)
            .output()
            .unwrap()
    };
    let applied = run(&["migrate"]);
    assert!(applied.status.success());
    assert!(String::from_utf8_lossy(&applied.stdout).contains("statement(s) applied"));
    let noop = run(&["migrate"]);
    assert!(noop.status.success());
    assert_eq!(
        String::from_utf8_lossy(&noop.stdout).trim(),
        "schema is current: nothing to do"
    );
}

#[tokio::test]
async fn stock_fa_user_columns_are_widened_keeping_their_attributes() {
    let db = TestDb::with_schema().await;
    let mut c = db.conn().await;
    c.query_drop(
        "INSERT INTO fa_user (id, username, password, salt, email, status) VALUES (2, 'alice@example.com', '8a2552332d39695709a007fbcef16e49', 'legacy1', 'alice@example.com', 'normal')",
    )
    .await
    .unwrap();
    // Stock schema in strict mode: a bcrypt hash does not fit (golden README bug 1).
    let hash = "$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe";
    let mut strict = db.conn().await;
    strict
        .query_drop("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'")
        .await
        .unwrap();
    assert!(
        strict
            .exec_drop("UPDATE fa_user SET password = ? WHERE id = 2", (hash,))
            .await
            .is_err()
    );

    let plan = schema::migrate(&mut c, "fa_", false).await.unwrap();
    assert_eq!(plan.steps.len(), 1, "{:?}", plan.steps);
    let create = show_create(&db, "fa_user").await;
    assert!(
        create.contains("`password` varchar(255) DEFAULT '' COMMENT '密码'"),
        "{create}"
    );
    assert!(
        create.contains("`username` varchar(100) DEFAULT '' COMMENT '用户名'"),
        "{create}"
    );
    assert!(create.contains("KEY `username` (`username`)"), "{create}");

    strict
        .exec_drop("UPDATE fa_user SET password = ? WHERE id = 2", (hash,))
        .await
        .unwrap();
    let long_email = "a-very-long-mailbox-name-indeed@subdomain.example.com";
    strict
        .exec_drop(
            "INSERT INTO fa_user (username, email) VALUES (?, ?)",
            (long_email, long_email),
        )
        .await
        .unwrap();
    let alice: (String, String) = c
        .query_first("SELECT username, salt FROM fa_user WHERE id = 2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice, ("alice@example.com".into(), "legacy1".into()));
    assert_current_and_idempotent(&db).await;
}

#[tokio::test]
async fn wider_columns_are_never_shrunk_and_foreign_enums_never_narrowed() {
    let db = TestDb::with_schema().await;
    let mut c = db.conn().await;
    c.query_drop("ALTER TABLE fa_user MODIFY `password` varchar(300) DEFAULT '' COMMENT 'x', MODIFY `username` varchar(120) DEFAULT ''")
        .await
        .unwrap();
    c.query_drop("ALTER TABLE fa_chathub_order MODIFY `status` enum('pending','paid','failed','refunded','cancelled') NOT NULL DEFAULT 'pending'")
        .await
        .unwrap();
    let plan = schema::migrate(&mut c, "fa_", false).await.unwrap();
    assert!(plan.is_noop(), "{:?}", plan.steps);
    assert_eq!(plan.unresolved.len(), 1, "{:?}", plan.unresolved);
    assert!(plan.unresolved[0].contains("fa_chathub_order.status"));
    assert_eq!(
        column_type(&db, "fa_user", "password").await.as_deref(),
        Some("varchar(300)")
    );
    assert_eq!(
        column_type(&db, "fa_user", "username").await.as_deref(),
        Some("varchar(120)")
    );
    let live = schema::inspect(&mut c, "fa_").await.unwrap();
    let problems = schema::verify(&live, "fa_");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("cancelled"), "{problems:?}");
}
