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
        payments: payment_series(&mut conn, db).await?,
    })
}

async fn payment_series(
    conn: &mut mysql_async::Conn,
    db: &Db,
) -> Result<crate::metrics::PaymentSeries, AppError> {
    // Detail is `<order_no> <outcome>[: why]`.
    let calls: Vec<(String, String, i64)> = conn
        .query(format!(
            "SELECT action, SUBSTRING_INDEX(SUBSTRING_INDEX(detail, ':', 1), ' ', -1), COUNT(*) FROM `{}` \
             WHERE action LIKE 'pay\\_query\\_%' OR action LIKE 'pay\\_close\\_%' GROUP BY 1, 2",
            db.t.log
        ))
        .await?;
    let paid: Vec<(String, i64)> = conn
        .query(format!(
            "SELECT pay_method, COUNT(*) FROM `{}` WHERE status = 'paid' AND pay_method IS NOT NULL GROUP BY pay_method",
            db.t.order
        ))
        .await?;
    let credited_by_query: Vec<(String, i64)> = conn
        .query(format!(
            "SELECT action, COUNT(*) FROM `{}` WHERE action LIKE 'pay\\_query\\_%' \
             AND detail LIKE '% credited' GROUP BY action",
            db.t.log
        ))
        .await?;
    Ok(crate::metrics::PaymentSeries {
        calls,
        paid,
        credited_by_query,
    })
}
