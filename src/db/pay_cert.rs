//! `chathub_pay_cert` (chathub's own): the payment gateways' certificates fetched at run time
//! (WeChat Pay's platform certificates, Alipay certificates an answer named), shared by every
//! instance; and per gateway one row with `serial_no = ''` whose `attempt_at` spaces the
//! downloads out, so several instances meeting the same unknown serial download once.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, col_int, col_text};
use crate::error::AppError;

/// One stored certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCert {
    pub serial_no: String,
    pub cert_pem: String,
    pub not_after: i64,
    pub fetched_at: i64,
}

impl StoredCert {
    fn from_row(row: &Row) -> Option<StoredCert> {
        Some(StoredCert {
            serial_no: col_text(row, "serial_no")?,
            cert_pem: col_text(row, "cert_pem")?,
            not_after: col_int(row, "not_after").unwrap_or_default(),
            fetched_at: col_int(row, "fetched_at").unwrap_or_default(),
        })
    }
}

/// The gateway's certificates still valid at `now`.
pub async fn valid<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    gateway: &str,
    now: i64,
) -> Result<Vec<StoredCert>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT serial_no, cert_pem, not_after, fetched_at FROM `{}` \
                 WHERE gateway = ? AND serial_no <> '' AND not_after > ? ORDER BY not_after",
                t.pay_cert
            ),
            (gateway, now),
        )
        .await?;
    Ok(rows.iter().filter_map(StoredCert::from_row).collect())
}

/// Keep a certificate (a second download of the same serial changes nothing but the time).
pub async fn store<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    gateway: &str,
    cert: &StoredCert,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (gateway, serial_no, cert_pem, not_after, fetched_at, attempt_at) \
             VALUES (?, ?, ?, ?, ?, 0) \
             ON DUPLICATE KEY UPDATE cert_pem = VALUES(cert_pem), not_after = VALUES(not_after), \
             fetched_at = VALUES(fetched_at)",
            t.pay_cert
        ),
        (
            gateway,
            &cert.serial_no,
            &cert.cert_pem,
            cert.not_after,
            cert.fetched_at,
        ),
    )
    .await?;
    Ok(())
}

/// Forget the gateway's certificates that expired by `now`.
pub async fn drop_expired(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    gateway: &str,
    now: i64,
) -> Result<u64, AppError> {
    conn.exec_drop(
        format!(
            "DELETE FROM `{}` WHERE gateway = ? AND serial_no <> '' AND not_after <= ?",
            t.pay_cert
        ),
        (gateway, now),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// When the gateway's certificates were last downloaded successfully (0: never).
pub async fn last_refresh<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    gateway: &str,
) -> Result<i64, AppError> {
    let at: Option<i64> = conn
        .exec_first(
            format!(
                "SELECT fetched_at FROM `{}` WHERE gateway = ? AND serial_no = ''",
                t.pay_cert
            ),
            (gateway,),
        )
        .await?;
    Ok(at.unwrap_or_default())
}

/// Claim the next download for this gateway: `true` (and the attempt noted at `now`) when no
/// instance attempted one in the last `spacing_secs`. One statement, so two instances
/// cannot both win.
pub async fn claim_download(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    gateway: &str,
    now: i64,
    spacing_secs: i64,
) -> Result<bool, AppError> {
    conn.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (gateway, serial_no, cert_pem, not_after, fetched_at, attempt_at) \
             VALUES (?, '', '', 0, 0, 0)",
            t.pay_cert
        ),
        (gateway,),
    )
    .await?;
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET attempt_at = ? \
             WHERE gateway = ? AND serial_no = '' AND (attempt_at <= ? OR attempt_at > ?)",
            t.pay_cert
        ),
        // An attempt "in the future" is a clock that went back: not a reason to wait.
        (now, gateway, now - spacing_secs, now),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// Note a successful download at `now`.
pub async fn note_refreshed<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    gateway: &str,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET fetched_at = ? WHERE gateway = ? AND serial_no = ''",
            t.pay_cert
        ),
        (now, gateway),
    )
    .await?;
    Ok(())
}
