//! `chathub_refund` (chathub's own): one row per refund, written before the gateway is called,
//! so its request number is sent again on every retry. Opening a refund locks the order row,
//! so two admins (or a double click) can never refund more than is left; a refund's effect on
//! the order and the tenant is applied in the transaction that marks it successful, once.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::clock::Clock;
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant;
use crate::db::{Tables, col_int, col_text};
use crate::domain::ids::{OrderId, OrderNo};
use crate::domain::money::{Money, PayMethod};
use crate::domain::tenant::TenantId;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Stored; whether the gateway got the request is not known yet.
    Pending,
    /// Accepted by the gateway, final word outstanding.
    Processing,
    Success,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Processing => "processing",
            RefundStatus::Success => "success",
            RefundStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<RefundStatus> {
        [
            RefundStatus::Pending,
            RefundStatus::Processing,
            RefundStatus::Success,
            RefundStatus::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Still counts against what is left to refund.
    pub fn holds_money(self) -> bool {
        self != RefundStatus::Failed
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: u32,
    pub order_id: OrderId,
    pub request_no: String,
    pub method: PayMethod,
    pub amount: Money,
    pub reason: String,
    pub take_days: u32,
    pub status: RefundStatus,
    pub refund_no: Option<String>,
    pub note: String,
    pub operator: String,
    pub attempts: u32,
    pub createtime: i64,
}

const COLUMNS: &str = "id, order_id, out_request_no, pay_method, amount, reason, take_days, status, \
refund_no, note, operator, attempts, createtime";

impl Refund {
    fn from_row(row: &Row) -> Result<Refund, AppError> {
        let bad = |what: &str| AppError::internal(format!("chathub_refund {what}"));
        Ok(Refund {
            id: col_int(row, "id").unwrap_or_default() as u32,
            order_id: OrderId(col_int(row, "order_id").unwrap_or_default() as u32),
            request_no: col_text(row, "out_request_no").unwrap_or_default(),
            method: col_text(row, "pay_method")
                .as_deref()
                .and_then(PayMethod::parse)
                .ok_or_else(|| bad("pay_method"))?,
            amount: col_text(row, "amount")
                .as_deref()
                .and_then(Money::parse)
                .ok_or_else(|| bad("amount"))?,
            reason: col_text(row, "reason").unwrap_or_default(),
            take_days: col_int(row, "take_days").unwrap_or_default() as u32,
            status: col_text(row, "status")
                .as_deref()
                .and_then(RefundStatus::parse)
                .ok_or_else(|| bad("status"))?,
            refund_no: col_text(row, "refund_no").filter(|s| !s.is_empty()),
            note: col_text(row, "note").unwrap_or_default(),
            operator: col_text(row, "operator").unwrap_or_default(),
            attempts: col_int(row, "attempts").unwrap_or_default() as u32,
            createtime: col_int(row, "createtime").unwrap_or_default(),
        })
    }
}

async fn select<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    cond: &str,
    params: impl Into<mysql_async::Params> + Send,
) -> Result<Vec<Refund>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!("SELECT {COLUMNS} FROM `{}` WHERE {cond}", t.refund),
            params,
        )
        .await?;
    rows.iter().map(Refund::from_row).collect()
}

pub async fn find_by_request_no<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    request_no: &str,
) -> Result<Option<Refund>, AppError> {
    Ok(select(conn, t, "out_request_no = ?", (request_no,))
        .await?
        .into_iter()
        .next())
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: u32,
) -> Result<Option<Refund>, AppError> {
    Ok(select(conn, t, "id = ?", (id,)).await?.into_iter().next())
}

/// Every refund of these orders, oldest first.
pub async fn for_orders<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    orders: &[OrderId],
) -> Result<Vec<Refund>, AppError> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = orders.iter().map(|o| o.0.to_string()).collect();
    // Numbers we formatted ourselves, so no parameter is needed for the list.
    select(
        conn,
        t,
        &format!("order_id IN ({}) ORDER BY id", ids.join(",")),
        (),
    )
    .await
}

/// Refunds whose outcome is still open and whose next look has come, nobody holding them.
pub async fn due<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    now: i64,
    limit: u32,
) -> Result<Vec<Refund>, AppError> {
    select(
        conn,
        t,
        &format!(
            "status IN ('pending', 'processing') AND next_check_at <= ? AND claim_until <= ? \
             ORDER BY next_check_at, id LIMIT {limit}"
        ),
        (now, now),
    )
    .await
}

/// What one paid order added to the tenant (`order::mark_paid`'s 30 days).
pub const RENEWAL_DAYS: u32 = 30;

/// A refund to open.
pub struct NewRefund<'a> {
    pub order_id: OrderId,
    pub request_no: &'a str,
    pub method: PayMethod,
    pub amount: Money,
    pub reason: &'a str,
    /// Days the admin asked to take back with a partial refund (a refund that leaves nothing
    /// of the order takes back what is left of its [`RENEWAL_DAYS`] instead).
    pub take_days: Option<u32>,
    pub operator: &'a str,
    /// The lease the opener holds on it while it calls the gateway.
    pub owner: &'a str,
    pub until: i64,
    pub now: i64,
}

/// What opening a refund came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// Stored now, leased to the opener: call the gateway.
    Created(Refund),
    /// This request number is already stored for this order (a double click, a retry).
    Existing(Refund),
    /// The request number belongs to another order.
    OtherOrder,
    /// Another refund of the order has no final outcome yet.
    Unresolved(Refund),
    /// More than is left (`left`).
    TooMuch { left: Money },
    /// The order is not paid (or already wholly refunded).
    NotPaid,
}

/// Open a refund of a paid order: the order row locked, so concurrent openers are serialised
/// and what is left is computed over every refund that may still move money.
pub async fn open(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    n: &NewRefund<'_>,
) -> Result<Opened, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let order: Option<(String, String)> = tx
        .exec_first(
            format!(
                "SELECT status, CAST(amount AS CHAR) FROM `{}` WHERE id = ? FOR UPDATE",
                t.order
            ),
            (n.order_id.0,),
        )
        .await?;
    let Some((status, amount)) = order else {
        tx.rollback().await?;
        return Ok(Opened::NotPaid);
    };
    // Locking reads: with the order row held they see every refund committed before us.
    let existing = select(&mut tx, t, "out_request_no = ? FOR UPDATE", (n.request_no,)).await?;
    if let Some(existing) = existing.into_iter().next() {
        tx.rollback().await?;
        return Ok(if existing.order_id == n.order_id {
            Opened::Existing(existing)
        } else {
            Opened::OtherOrder
        });
    }
    if status != "paid" {
        tx.rollback().await?;
        return Ok(Opened::NotPaid);
    }
    let refunds = select(&mut tx, t, "order_id = ? FOR UPDATE", (n.order_id.0,)).await?;
    if let Some(open) = refunds
        .iter()
        .find(|r| matches!(r.status, RefundStatus::Pending | RefundStatus::Processing))
    {
        tx.rollback().await?;
        return Ok(Opened::Unresolved(open.clone()));
    }
    let total = Money::parse(&amount).unwrap_or(Money::from_cents(0));
    let held: i64 = refunds
        .iter()
        .filter(|r| r.status.holds_money())
        .map(|r| r.amount.cents())
        .sum();
    let left = Money::from_cents((total.cents() - held).max(0));
    if n.amount.cents() <= 0 || n.amount > left {
        tx.rollback().await?;
        return Ok(Opened::TooMuch { left });
    }
    let days_left = RENEWAL_DAYS.saturating_sub(
        refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Success)
            .map(|r| r.take_days)
            .sum(),
    );
    let take_days = if n.amount == left {
        days_left
    } else {
        n.take_days.unwrap_or(0).min(days_left)
    };
    tx.exec_drop(
        format!(
            "INSERT INTO `{}` (order_id, out_request_no, pay_method, amount, reason, take_days, status, \
             operator, claim_owner, claim_until, createtime, updatetime) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
            t.refund
        ),
        (
            n.order_id.0,
            n.request_no,
            n.method.as_str(),
            n.amount.decimal(),
            n.reason,
            take_days,
            n.operator,
            n.owner,
            n.until,
            n.now,
            n.now,
        ),
    )
    .await?;
    let created = find_by_request_no(&mut tx, t, n.request_no).await?;
    tx.commit().await?;
    created
        .map(Opened::Created)
        .ok_or_else(|| AppError::internal("refund row vanished after insert"))
}

/// Take the lease on an open refund: `true` when `owner` now holds it.
pub async fn claim(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    id: u32,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, AppError> {
    let r = conn
        .exec_iter(
            format!(
                "UPDATE `{}` SET claim_owner = ?, claim_until = ? WHERE id = ? \
                 AND status IN ('pending', 'processing') AND (claim_until <= ? OR claim_owner = ?)",
                t.refund
            ),
            (owner, until, id, now, owner),
        )
        .await?;
    let claimed = r.affected_rows() == 1;
    r.drop_result().await?;
    Ok(claimed)
}

/// What a call whose outcome is still open left: the refund's state, what the gateway said,
/// when to look again.
pub struct OpenNote<'a> {
    pub status: RefundStatus,
    pub note: &'a str,
    pub next_check_at: i64,
}

/// Store an open outcome and give the lease back (only the lease holder's note counts).
pub async fn note_open(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    id: u32,
    owner: &str,
    n: &OpenNote<'_>,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET status = ?, note = ?, attempts = attempts + 1, next_check_at = ?, \
             claim_owner = NULL, claim_until = 0, updatetime = ? \
             WHERE id = ? AND claim_owner = ? AND status IN ('pending', 'processing')",
            t.refund
        ),
        (n.status.as_str(), n.note, n.next_check_at, now, id, owner),
    )
    .await?;
    Ok(())
}

/// A final failure (the gateway refused, closed it, or it went abnormal): the amount is
/// free again. `false` when it was no longer open.
pub async fn fail(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    id: u32,
    note: &str,
    now: i64,
) -> Result<bool, AppError> {
    let r = conn
        .exec_iter(
            format!(
                "UPDATE `{}` SET status = 'failed', note = ?, claim_owner = NULL, claim_until = 0, \
                 updatetime = ? WHERE id = ? AND status IN ('pending', 'processing')",
                t.refund
            ),
            (note, now, id),
        )
        .await?;
    let changed = r.affected_rows() == 1;
    r.drop_result().await?;
    Ok(changed)
}

/// What marking a refund successful did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// This call marked it and applied it: the order is wholly refunded (`full`), and the
    /// tenant's expiry moved from `before` to `after` when days were taken back.
    Applied {
        tenant: Option<TenantId>,
        full: bool,
        expiry: Option<(String, String)>,
    },
    /// Someone (a replayed notification, a query) already had.
    AlreadyDone,
}

/// The refund succeeded: mark it, and in the same transaction set the order `refunded` when
/// nothing is left of it, take the refund's days back from the tenant, and write the log row.
/// Exactly once, whoever reports the success first.
pub async fn succeed(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    clock: &Clock,
    id: u32,
    refund_no: Option<&str>,
) -> Result<Settled, AppError> {
    let now = clock.epoch();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let Some(r) = select(&mut tx, t, "id = ? FOR UPDATE", (id,))
        .await?
        .into_iter()
        .next()
    else {
        tx.rollback().await?;
        return Ok(Settled::AlreadyDone);
    };
    if r.status == RefundStatus::Success {
        tx.rollback().await?;
        return Ok(Settled::AlreadyDone);
    }
    tx.exec_drop(
        format!(
            "UPDATE `{}` SET status = 'success', refund_no = COALESCE(?, refund_no), note = '', \
             claim_owner = NULL, claim_until = 0, updatetime = ? WHERE id = ?",
            t.refund
        ),
        (refund_no, now, id),
    )
    .await?;
    let order: Option<(String, u32, String)> = tx
        .exec_first(
            format!(
                "SELECT order_no, tenant_id, CAST(amount AS CHAR) FROM `{}` WHERE id = ? FOR UPDATE",
                t.order
            ),
            (r.order_id.0,),
        )
        .await?;
    let Some((order_no, tenant_id, amount)) = order else {
        tx.commit().await?;
        return Ok(Settled::Applied {
            tenant: None,
            full: false,
            expiry: None,
        });
    };
    let order_no = OrderNo::from_column(order_no);
    let refunded: Option<i64> = tx
        .exec_first(
            format!(
                "SELECT CAST(COALESCE(SUM(amount), 0) * 100 AS SIGNED) FROM `{}` \
                 WHERE order_id = ? AND status = 'success'",
                t.refund
            ),
            (r.order_id.0,),
        )
        .await?;
    let total = Money::parse(&amount).unwrap_or(Money::from_cents(0));
    let full = refunded.unwrap_or(0) >= total.cents();
    if full {
        tx.exec_drop(
            format!(
                "UPDATE `{}` SET status = 'refunded', updatetime = ? WHERE id = ? AND status = 'paid'",
                t.order
            ),
            (now, r.order_id.0),
        )
        .await?;
    }
    let tenant = tenant::find_for_update(&mut tx, t, TenantId(tenant_id)).await?;
    let mut expiry = None;
    if let Some(current) = &tenant
        && r.take_days > 0
        && let Some(before) = current.expire_at.as_deref()
        && let Some(at) = clock.parse_local(before)
    {
        let after = clock.format_epoch(
            at.timestamp() - i64::from(r.take_days) * 86_400,
            "%Y-%m-%d %H:%M:%S",
        );
        tenant::set_status_and_expiry(&mut tx, t, current.id, current.status, &after).await?;
        expiry = Some((before.to_string(), after));
    }
    let mut detail = format!(
        "退款成功，订单 {order_no}，金额 ¥{}，退款单 {}",
        r.amount.decimal(),
        r.request_no
    );
    if full {
        detail.push_str("（全额）");
    }
    if let Some((before, after)) = &expiry {
        detail.push_str(&format!(
            "，收回 {} 天：到期时间 {before} → {after}",
            r.take_days
        ));
    }
    log::insert(
        &mut tx,
        t,
        &NewLog {
            tenant_id,
            action: "refund",
            detail: &detail,
            status: LogStatus::Success,
            operator: if r.operator.is_empty() {
                "system"
            } else {
                &r.operator
            },
            createtime: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Settled::Applied {
        tenant: tenant.map(|t| t.id),
        full,
        expiry,
    })
}
