//! What `/metrics` reads from the tables.

use mysql_async::prelude::*;

use crate::db::Db;
use crate::error::AppError;
use crate::metrics::DatabaseSeries;

pub async fn metrics_series(db: &Db) -> Result<DatabaseSeries, AppError> {
    let mut conn = db.conn().await?;
    let notifications: Vec<(String, String, i64)> = conn
        .query(format!(
            "SELECT action, status, COUNT(*) FROM `{}` WHERE action LIKE 'pay\\_notify\\_%' GROUP BY action, status",
            db.t.log
        ))
        .await?;
    let backlog: Option<i64> = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM `{}` WHERE status = 'provisioning' OR (status = 'pending' \
             AND (embed_code IS NULL OR embed_code = '') AND config LIKE '%provision\\_retry%')",
            db.t.tenant
        ))
        .await?;
    Ok(DatabaseSeries {
        notifications,
        provisioning_backlog: backlog.unwrap_or(0),
    })
}
