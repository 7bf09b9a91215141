//! A database per test, dropped with it, and small queries on it.

use mysql_async::prelude::*;

use super::{mysql_server_url, rand_u64};

/// A database created for one test and dropped when the value goes out of scope.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: mysql_async::Pool,
}

impl TestDb {
    /// Empty database, no tables.
    pub async fn empty() -> TestDb {
        let server = mysql_server_url();
        let name = format!("chathub_t_{:016x}", rand_u64());
        let mut admin = mysql_async::Conn::from_url(server.as_str()).await.unwrap_or_else(|e| {
            panic!("cannot reach MariaDB at {server}: {e}\nrun the tests with scripts/test.sh, which starts one")
        });
        admin
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .expect("create database");
        drop(admin);
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        let pool = mysql_async::Pool::new(url.as_str());
        TestDb { name, url, pool }
    }

    /// FastAdmin's tables plus the addon's, as on a stock site after installing the addon.
    pub async fn with_schema() -> TestDb {
        let db = TestDb::empty().await;
        db.run_sql(include_str!("../../../sql/fastadmin_base.sql"))
            .await;
        db.run_sql(include_str!("../../../install.sql")).await;
        db
    }

    /// Run a `;`-separated script with `__PREFIX__` = `fa_`.
    pub async fn run_sql(&self, sql: &str) {
        let mut conn = self.pool.get_conn().await.expect("conn");
        for stmt in sql
            .replace("__PREFIX__", "fa_")
            .split(";\n")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let stmt: String = stmt
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if stmt.trim().is_empty() {
                continue;
            }
            conn.query_drop(&stmt)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{stmt}"));
        }
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        self.pool.get_conn().await.expect("conn")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = mysql_server_url();
        let name = self.name.clone();
        // Dropping happens outside any runtime guarantees: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut c) = mysql_async::Conn::from_url(server.as_str()).await {
                    // The test's runtime is blocked in this drop, so a server task it left in
                    // the middle of a transaction can never finish: end those connections
                    // instead of waiting for their metadata locks forever.
                    let ids: Vec<u64> = c
                        .exec(
                            "SELECT id FROM information_schema.processlist WHERE db = ?",
                            (name.as_str(),),
                        )
                        .await
                        .unwrap_or_default();
                    for id in ids {
                        let _ = c.query_drop(format!("KILL {id}")).await;
                    }
                    let _ = c.query_drop("SET SESSION lock_wait_timeout = 10").await;
                    let _ = c
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = c.disconnect().await;
                }
            });
        })
        .join();
    }
}

/// One row as strings (NULL as "NULL").
pub async fn row(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.conn().await;
    let r: Option<mysql_async::Row> = conn.query_first(sql).await.unwrap();
    let r = r.expect("row");
    (0..r.len())
        .map(|i| chathub::db::text(r.as_ref(i).unwrap()).unwrap_or_else(|| "NULL".into()))
        .collect()
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    let mut conn = db.conn().await;
    conn.query_first::<i64, _>(sql).await.unwrap().unwrap_or(0)
}

/// `fa_chathub_tenant.status` of tenant `id` (which must exist).
pub async fn tenant_status(db: &TestDb, id: u32) -> String {
    let mut c = db.conn().await;
    c.exec_first("SELECT status FROM fa_chathub_tenant WHERE id = ?", (id,))
        .await
        .unwrap()
        .unwrap()
}

/// `COLUMN_TYPE` of `table.column` in this database, `None` when there is no such column.
pub async fn column_type(db: &TestDb, table: &str, column: &str) -> Option<String> {
    let mut c = db.conn().await;
    c.exec_first(
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        (&db.name, table, column),
    )
    .await
    .unwrap()
}
