//! `fa_chathub_channel_account`: one row per (tenant, channel) holding the channel's
//! credentials for the gateway.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, col_int, col_text};
use crate::domain::channel::{AccountChannel, AccountSummary};
use crate::domain::tenant::TenantId;
use crate::error::AppError;

/// The tenant's accounts for the list page, newest first. The credentials column is not
/// read: the pages never need it.
pub async fn list_for_tenant<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    tenant: TenantId,
) -> Result<Vec<AccountSummary>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT id, channel, status, last_refresh_at FROM `{}` WHERE tenant_id = ? ORDER BY id DESC",
                t.channel_account
            ),
            (tenant.0,),
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AccountSummary {
            id: col_int(r, "id").unwrap_or_default() as u32,
            channel: col_text(r, "channel").unwrap_or_default(),
            status: col_text(r, "status"),
            last_refresh_at: col_text(r, "last_refresh_at"),
        })
        .collect())
}

/// Whether the save created the row or replaced an existing one's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Inserted,
    Updated,
}

/// Store `credentials` for (tenant, channel) with status `active`: update the existing row
/// (the oldest, should there be several) or insert one with `createtime`.
///
/// The table has no unique key on (tenant_id, channel), so two first saves at once could
/// both insert. Locking the tenant's row first serialises every save for one tenant; the
/// whole change is one transaction. `Ok(None)` when the tenant no longer exists.
pub async fn save(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    tenant: TenantId,
    channel: AccountChannel,
    credentials: &[u8],
    now: i64,
) -> Result<Option<Saved>, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let locked: Option<u32> = tx
        .exec_first(
            format!("SELECT id FROM `{}` WHERE id = ? FOR UPDATE", t.tenant),
            (tenant.0,),
        )
        .await?;
    if locked.is_none() {
        tx.rollback().await?;
        return Ok(None);
    }
    let existing: Option<u32> = tx
        .exec_first(
            format!(
                "SELECT id FROM `{}` WHERE tenant_id = ? AND channel = ? ORDER BY id ASC LIMIT 1",
                t.channel_account
            ),
            (tenant.0, channel.as_str()),
        )
        .await?;
    let saved = match existing {
        Some(id) => {
            tx.exec_drop(
                format!(
                    "UPDATE `{}` SET tenant_id = ?, channel = ?, credentials_encrypted = ?, status = 'active', \
                     updatetime = ? WHERE id = ?",
                    t.channel_account
                ),
                (tenant.0, channel.as_str(), credentials, now, id),
            )
            .await?;
            Saved::Updated
        }
        None => {
            tx.exec_drop(
                format!(
                    "INSERT INTO `{}` (tenant_id, channel, credentials_encrypted, status, updatetime, createtime) \
                     VALUES (?, ?, ?, 'active', ?, ?)",
                    t.channel_account
                ),
                (tenant.0, channel.as_str(), credentials, now, now),
            )
            .await?;
            Saved::Inserted
        }
    };
    tx.commit().await?;
    Ok(Some(saved))
}
