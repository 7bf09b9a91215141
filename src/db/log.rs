//! `fa_chathub_log`: the addon's audit trail, written exactly as the original wrote it.

use mysql_async::prelude::*;

use crate::db::Tables;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStatus {
    Success,
    Failed,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Success => "success",
            LogStatus::Failed => "failed",
        }
    }
}

pub struct NewLog<'a> {
    pub tenant_id: u32,
    pub action: &'a str,
    pub detail: &'a str,
    pub status: LogStatus,
    pub operator: &'a str,
    pub createtime: i64,
}

pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    log: &NewLog<'_>,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (tenant_id, action, detail, status, operator, createtime) VALUES (?, ?, ?, ?, ?, ?)",
            t.log
        ),
        (log.tenant_id, log.action, log.detail, log.status.as_str(), log.operator, log.createtime),
    )
    .await?;
    Ok(())
}
