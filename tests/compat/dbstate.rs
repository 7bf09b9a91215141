//! The compared tables: seeding a group's starting rows and reading every row back, typed like
//! the recordings (integers as numbers, DECIMAL and DATETIME as strings).

use mysql_async::prelude::*;
use serde_json::Value;

pub const TABLES: &[&str] = &[
    "fa_user",
    "fa_chathub_tenant",
    "fa_chathub_order",
    "fa_chathub_channel_account",
    "fa_chathub_log",
];

/// `_group.json`'s `seed_sql` then `seed_rows`, on a database that has the schema.
pub async fn seed_group(db: &crate::support::TestDb, group: &Value) {
    let mut conn = db.conn().await;
    for stmt in group["seed_sql"].as_array().into_iter().flatten() {
        let s = stmt.as_str().unwrap_or_default();
        conn.query_drop(s)
            .await
            .unwrap_or_else(|e| panic!("seed: {e}\n{s}"));
    }
    for table in TABLES {
        for row in group["seed_rows"][*table].as_array().into_iter().flatten() {
            insert_row(&mut conn, table, row).await;
        }
    }
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

pub async fn insert_row(conn: &mut mysql_async::Conn, table: &str, row: &Value) {
    let obj = row.as_object().expect("row object");
    let cols: Vec<String> = obj.keys().map(|k| format!("`{k}`")).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let sql = format!(
        "INSERT INTO `{table}` ({}) VALUES ({marks})",
        cols.join(", ")
    );
    let params: Vec<mysql_async::Value> = obj.values().map(json_to_mysql).collect();
    conn.exec_drop(&sql, mysql_async::Params::Positional(params))
        .await
        .unwrap_or_else(|e| panic!("seed row {table}: {e}"));
}

/// Every row of the compared tables (`fa_user` id > 1), typed like the recordings.
pub async fn dump_db(conn: &mut mysql_async::Conn) -> Value {
    use mysql_async::consts::ColumnType as T;
    let mut out = serde_json::Map::new();
    for table in TABLES {
        let filter = if *table == "fa_user" {
            " WHERE id > 1"
        } else {
            ""
        };
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM `{table}`{filter} ORDER BY id"))
            .await
            .unwrap_or_else(|e| panic!("dump {table}: {e}"));
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
    Value::Object(out)
}
