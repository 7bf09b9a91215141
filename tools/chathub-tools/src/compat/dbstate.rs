//! The compared tables: seeding a group's starting rows and reading every row back, typed like
//! the recordings (integers as numbers, DECIMAL and DATETIME as strings).

use mysql_async::prelude::*;
use serde_json::Value;

use super::ToolError;

pub const TABLES: &[&str] = &[
    "fa_user",
    "fa_chathub_tenant",
    "fa_chathub_order",
    "fa_chathub_channel_account",
    "fa_chathub_log",
];

/// Rows FastAdmin owns that the compared tables leave alone: the default user (id 1).
fn keep_filter(table: &str) -> &'static str {
    if table == "fa_user" {
        " WHERE id > 1"
    } else {
        ""
    }
}

/// `_group.json`'s `seed_sql` then `seed_rows`, on a database that has the schema.
pub async fn seed_group(conn: &mut mysql_async::Conn, group: &Value) -> Result<(), ToolError> {
    for stmt in group["seed_sql"].as_array().into_iter().flatten() {
        let s = stmt.as_str().unwrap_or_default();
        conn.query_drop(s)
            .await
            .map_err(|e| ToolError::Db(format!("seed: {e}: {s}")))?;
    }
    insert_seed_rows(conn, group).await
}

/// The group's `seed_rows`, table by table.
pub async fn insert_seed_rows(
    conn: &mut mysql_async::Conn,
    group: &Value,
) -> Result<(), ToolError> {
    for table in TABLES {
        for row in group["seed_rows"][*table].as_array().into_iter().flatten() {
            insert_row(conn, table, row).await?;
        }
    }
    Ok(())
}

/// A scratch site's database back to a group's start: the compared tables emptied (FastAdmin's
/// own user 1 kept), ids restarting, the `fa_user.password` column as the group's schema has it,
/// FastAdmin's own rows of the seed inserted only where missing (the tester's admin stays
/// signed in), then the group's rows.
pub async fn reset_to_group(conn: &mut mysql_async::Conn, group: &Value) -> Result<(), ToolError> {
    for t in TABLES
        .iter()
        .copied()
        .chain(["fa_chathub_gateway_log", "fa_chathub_provision_state"])
    {
        conn.query_drop(format!("DELETE FROM `{t}`{}", keep_filter(t)))
            .await
            .map_err(|e| ToolError::Db(format!("reset {t}: {e}")))?;
        // MariaDB moves AUTO_INCREMENT down to max(id)+1: new rows get the recordings' ids.
        conn.query_drop(format!("ALTER TABLE `{t}` AUTO_INCREMENT = 1"))
            .await
            .map_err(|e| ToolError::Db(format!("reset {t}: {e}")))?;
    }
    if group["schema"].as_str() == Some("stock") {
        conn.query_drop(
            "ALTER TABLE fa_user MODIFY `password` varchar(32) DEFAULT '' COMMENT '密码'",
        )
        .await
        .map_err(|e| ToolError::Db(format!("reset fa_user.password: {e}")))?;
    }
    for stmt in group["seed_sql"].as_array().into_iter().flatten() {
        let s = stmt.as_str().unwrap_or_default();
        let s = match s.strip_prefix("INSERT INTO ") {
            Some(rest) => format!("INSERT IGNORE INTO {rest}"),
            None => s.to_string(),
        };
        conn.query_drop(&s)
            .await
            .map_err(|e| ToolError::Db(format!("seed: {e}: {s}")))?;
    }
    insert_seed_rows(conn, group).await
}

fn json_to_mysql(v: &Value) -> mysql_async::Value {
    match v {
        Value::Null => mysql_async::Value::NULL,
        Value::Bool(b) => mysql_async::Value::Int(*b as i64),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => mysql_async::Value::Int(i),
            (None, Some(u)) => mysql_async::Value::UInt(u),
            _ => mysql_async::Value::Double(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => mysql_async::Value::Bytes(s.as_bytes().to_vec()),
        other => mysql_async::Value::Bytes(other.to_string().into_bytes()),
    }
}

pub async fn insert_row(
    conn: &mut mysql_async::Conn,
    table: &str,
    row: &Value,
) -> Result<(), ToolError> {
    let obj = row
        .as_object()
        .ok_or_else(|| ToolError::Format(format!("seed row of {table} is not an object")))?;
    // Column names come from our own fixture files; quote them anyway.
    let cols: Vec<String> = obj
        .keys()
        .map(|k| format!("`{}`", k.replace('`', "")))
        .collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let sql = format!(
        "INSERT INTO `{table}` ({}) VALUES ({marks})",
        cols.join(", ")
    );
    let params: Vec<mysql_async::Value> = obj.values().map(json_to_mysql).collect();
    conn.exec_drop(&sql, mysql_async::Params::Positional(params))
        .await
        .map_err(|e| ToolError::Db(format!("seed row {table}: {e}")))
}

/// Every row of the compared tables (`fa_user` id > 1), typed like the recordings.
pub async fn dump_db(conn: &mut mysql_async::Conn) -> Result<Value, ToolError> {
    use mysql_async::consts::ColumnType as T;
    let mut out = serde_json::Map::new();
    for table in TABLES {
        let rows: Vec<mysql_async::Row> = conn
            .query(format!(
                "SELECT * FROM `{table}`{} ORDER BY id",
                keep_filter(table)
            ))
            .await
            .map_err(|e| ToolError::Db(format!("dump {table}: {e}")))?;
        let mut list = Vec::new();
        for row in rows {
            let mut obj = serde_json::Map::new();
            for (i, col) in row.columns_ref().iter().enumerate() {
                let v = match row.as_ref(i) {
                    None | Some(mysql_async::Value::NULL) => Value::Null,
                    Some(mysql_async::Value::Bytes(b)) => {
                        let s = String::from_utf8_lossy(b).to_string();
                        match col.column_type() {
                            T::MYSQL_TYPE_TINY
                            | T::MYSQL_TYPE_SHORT
                            | T::MYSQL_TYPE_LONG
                            | T::MYSQL_TYPE_INT24
                            | T::MYSQL_TYPE_LONGLONG
                            | T::MYSQL_TYPE_YEAR => s
                                .parse::<i64>()
                                .map(Value::from)
                                .or_else(|_| s.parse::<u64>().map(Value::from))
                                .unwrap_or(Value::String(s)),
                            T::MYSQL_TYPE_FLOAT | T::MYSQL_TYPE_DOUBLE => s
                                .parse::<f64>()
                                .map(Value::from)
                                .unwrap_or(Value::String(s)),
                            _ => Value::String(s),
                        }
                    }
                    Some(mysql_async::Value::Int(i)) => Value::from(*i),
                    Some(mysql_async::Value::UInt(u)) => Value::from(*u),
                    Some(other) => Value::String(other.as_sql(true).trim_matches('\'').to_string()),
                };
                obj.insert(col.name_str().to_string(), v);
            }
            list.push(Value::Object(obj));
        }
        out.insert(table.to_string(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

/// The compared tables' rows and id counters, to put back after an exchange whose changes the
/// following exchanges must not see (`restore_db_after`).
pub struct Snapshot {
    rows: Value,
    auto_increment: Vec<(String, u64)>,
}

pub async fn snapshot(conn: &mut mysql_async::Conn) -> Result<Snapshot, ToolError> {
    let rows = dump_db(conn).await?;
    let mut auto_increment = Vec::new();
    for t in TABLES {
        let ai: Option<u64> = conn
            .exec_first(
                "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (t,),
            )
            .await
            .ok()
            .flatten();
        if let Some(ai) = ai {
            auto_increment.push((t.to_string(), ai));
        }
    }
    Ok(Snapshot {
        rows,
        auto_increment,
    })
}

pub async fn restore(conn: &mut mysql_async::Conn, s: &Snapshot) -> Result<(), ToolError> {
    for t in TABLES {
        conn.query_drop(format!("DELETE FROM `{t}`{}", keep_filter(t)))
            .await
            .map_err(|e| ToolError::Db(format!("restore {t}: {e}")))?;
        for row in s.rows[*t].as_array().into_iter().flatten() {
            insert_row(conn, t, row).await?;
        }
    }
    for (t, ai) in &s.auto_increment {
        conn.query_drop(format!("ALTER TABLE `{t}` AUTO_INCREMENT = {ai}"))
            .await
            .map_err(|e| ToolError::Db(format!("restore {t}: {e}")))?;
    }
    Ok(())
}
