//! What `record --db` changes on the site's database, taken before the first group and put back
//! after the last one (also after an error or Ctrl-C): every row and id counter of the tables
//! it empties or seeds, and the column definitions it alters (`fa_user.password` becomes the
//! stock `varchar(32)` for the groups recorded on the original's schema).
//!
//! Rows are kept as the server's own values (no JSON round trip), so what goes back is
//! byte-identical. The backup lives in memory: a recorder killed outright (SIGKILL, power
//! loss) cannot restore, which is why the README still asks for a scratch copy.

use mysql_async::prelude::*;

use super::ToolError;

/// Tables `record --db` writes: the compared ones, the addon's other two, and FastAdmin's
/// admin tables its seeds insert into.
pub const TOUCHED_TABLES: &[&str] = &[
    "fa_user",
    "fa_chathub_tenant",
    "fa_chathub_order",
    "fa_chathub_channel_account",
    "fa_chathub_log",
    "fa_chathub_gateway_log",
    "fa_chathub_provision_state",
    "fa_admin",
    "fa_auth_group",
    "fa_auth_group_access",
];

/// What a tester is told before recording with `--db`.
pub fn what_record_changes() -> String {
    format!(
        "record --db empties and seeds {}, resets their AUTO_INCREMENT and switches \
         fa_user.password between varchar(32) and varchar(255) per group; it puts every row, \
         counter and column definition back when it ends, fails or is interrupted (Ctrl-C)",
        TOUCHED_TABLES.join(", ")
    )
}

struct TableBackup {
    name: String,
    /// `SHOW CREATE TABLE` column lines (`` `password` varchar(255) ... ``).
    columns: Vec<String>,
    rows: Vec<mysql_async::Row>,
    auto_increment: Option<u64>,
}

pub struct SiteBackup {
    tables: Vec<TableBackup>,
}

async fn column_lines(conn: &mut mysql_async::Conn, table: &str) -> Result<Vec<String>, ToolError> {
    let create: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE `{table}`"))
        .await
        .map_err(|e| ToolError::Db(format!("backup {table}: {e}")))?;
    Ok(create
        .map(|(_, sql)| {
            sql.lines()
                .map(|l| l.trim().trim_end_matches(',').to_string())
                .filter(|l| l.starts_with('`'))
                .collect()
        })
        .unwrap_or_default())
}

/// The table's next id (`SHOW TABLE STATUS`: information_schema may answer NULL from a stale
/// statistics cache).
async fn auto_increment(
    conn: &mut mysql_async::Conn,
    table: &str,
) -> Result<Option<u64>, ToolError> {
    let status: Option<mysql_async::Row> = conn
        .exec_first("SHOW TABLE STATUS WHERE Name = ?", (table,))
        .await
        .map_err(|e| ToolError::Db(format!("backup {table}: {e}")))?;
    Ok(status.and_then(|r| {
        r.get_opt::<Option<u64>, _>("Auto_increment")?
            .ok()
            .flatten()
    }))
}

/// Take the backup (tables missing on this site are skipped: nothing to restore there).
pub async fn take(conn: &mut mysql_async::Conn) -> Result<SiteBackup, ToolError> {
    let mut tables = Vec::new();
    for t in TOUCHED_TABLES {
        let exists: Option<String> = conn
            .exec_first(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (t,),
            )
            .await
            .map_err(|e| ToolError::Db(format!("backup {t}: {e}")))?;
        if exists.is_none() {
            continue;
        }
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM `{t}`"))
            .await
            .map_err(|e| ToolError::Db(format!("backup {t}: {e}")))?;
        let auto_increment = auto_increment(conn, t).await?;
        tables.push(TableBackup {
            name: t.to_string(),
            columns: column_lines(conn, t).await?,
            rows,
            auto_increment,
        });
    }
    Ok(SiteBackup { tables })
}

/// Put everything back: column definitions first (a varchar(32) column would cut restored
/// bcrypt hashes), then rows, then id counters.
pub async fn restore(conn: &mut mysql_async::Conn, b: &SiteBackup) -> Result<(), ToolError> {
    let err = |t: &str, e: mysql_async::Error| ToolError::Db(format!("restore {t}: {e}"));
    for t in &b.tables {
        // Rows first: the recording's rows may not fit the old column (bcrypt in varchar(32)).
        conn.query_drop(format!("DELETE FROM `{}`", t.name))
            .await
            .map_err(|e| err(&t.name, e))?;
        // The columns record alters are always put back: an ALTER of an interrupted group may
        // still be finishing on its own connection (this one waits for its lock).
        let now = column_lines(conn, &t.name).await?;
        let altered = |c: &String| t.name == "fa_user" && c.starts_with("`password`");
        for col in t.columns.iter().filter(|c| !now.contains(c) || altered(c)) {
            conn.query_drop(format!("ALTER TABLE `{}` MODIFY {col}", t.name))
                .await
                .map_err(|e| err(&t.name, e))?;
        }
        for row in &t.rows {
            let cols: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| format!("`{}`", c.name_str().replace('`', "")))
                .collect();
            let marks = vec!["?"; cols.len()].join(", ");
            let values: Vec<mysql_async::Value> = (0..cols.len())
                .map(|i| row.as_ref(i).cloned().unwrap_or(mysql_async::Value::NULL))
                .collect();
            conn.exec_drop(
                format!(
                    "INSERT INTO `{}` ({}) VALUES ({marks})",
                    t.name,
                    cols.join(", ")
                ),
                mysql_async::Params::Positional(values),
            )
            .await
            .map_err(|e| err(&t.name, e))?;
        }
        if let Some(ai) = t.auto_increment {
            conn.query_drop(format!("ALTER TABLE `{}` AUTO_INCREMENT = {ai}", t.name))
                .await
                .map_err(|e| err(&t.name, e))?;
        }
    }
    Ok(())
}
