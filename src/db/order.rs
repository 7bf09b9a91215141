//! `fa_chathub_order`: one row per renewal attempt. Paying one is the only way money turns
//! into subscription time, so [`mark_paid`] is exactly-once.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::clock::Clock;
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant;
use crate::db::{Tables, col_int, col_text};
use crate::domain::ids::{OrderId, OrderNo, OrderStatus, UserId};
use crate::domain::money::{Money, PayMethod};
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;

const COLUMNS: &str = "id, order_no, tenant_id, user_id, plan, amount, pay_method, pay_trade_no, status, \
paid_at, expire_at, createtime, updatetime";

#[derive(Clone, Debug)]
pub struct Order {
    pub id: OrderId,
    pub order_no: OrderNo,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub plan: String,
    pub amount: Money,
    /// The column as stored (`60.00`), for texts that print it as the original did.
    pub amount_text: String,
    pub pay_method: Option<String>,
    pub status: OrderStatus,
    pub createtime: i64,
}

impl Order {
    fn from_row(row: &Row) -> Result<Order, AppError> {
        let amount_text = col_text(row, "amount").unwrap_or_default();
        let status_s = col_text(row, "status").unwrap_or_default();
        Ok(Order {
            id: OrderId(col_int(row, "id").unwrap_or_default() as u32),
            order_no: OrderNo::from_column(col_text(row, "order_no").unwrap_or_default()),
            tenant_id: TenantId(col_int(row, "tenant_id").unwrap_or_default() as u32),
            user_id: UserId(col_int(row, "user_id").unwrap_or_default() as u32),
            plan: col_text(row, "plan").unwrap_or_default(),
            amount: Money::parse(&amount_text)
                .ok_or_else(|| AppError::internal(format!("order amount {amount_text:?}")))?,
            amount_text,
            pay_method: col_text(row, "pay_method"),
            status: OrderStatus::parse(&status_s)
                .ok_or_else(|| AppError::internal(format!("order status {status_s:?}")))?,
            createtime: col_int(row, "createtime").unwrap_or_default(),
        })
    }
}

pub async fn find_by_no<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_no: &OrderNo,
) -> Result<Option<Order>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM `{}` WHERE order_no = ?", t.order),
            (order_no.as_str(),),
        )
        .await?;
    row.as_ref().map(Order::from_row).transpose()
}

pub async fn find_by_id<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: OrderId,
) -> Result<Option<Order>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM `{}` WHERE id = ?", t.order),
            (id.0,),
        )
        .await?;
    row.as_ref().map(Order::from_row).transpose()
}

/// What makes a pending order worth showing again.
pub struct Reuse<'a> {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub plan: &'a str,
    pub amount: Money,
    /// Made at or after this.
    pub since: i64,
    /// A gateway deadline it has must be later than this (one closed, or about to be, is
    /// never handed out again).
    pub payable_until: i64,
}

/// The tenant's newest unpaid order for the same plan and amount made since `since`, so
/// reloading the renew page does not pile up orders (COMPAT.md#renew-reuses-pending-order).
pub async fn find_reusable<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    r: &Reuse<'_>,
) -> Result<Option<Order>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT {COLUMNS} FROM `{o}` WHERE tenant_id = ? AND user_id = ? AND status = 'pending' \
                 AND plan = ? AND amount = ? AND createtime >= ? \
                 AND NOT EXISTS (SELECT 1 FROM `{q}` q WHERE q.order_id = `{o}`.id AND q.deadline <= ?) \
                 ORDER BY id DESC LIMIT 1",
                o = t.order,
                q = t.pay_query
            ),
            (
                r.tenant_id.0,
                r.user_id,
                r.plan,
                r.amount.decimal(),
                r.since,
                r.payable_until,
            ),
        )
        .await?;
    row.as_ref().map(Order::from_row).transpose()
}

pub struct NewOrder<'a> {
    pub order_no: &'a OrderNo,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub plan: &'a str,
    pub amount: Money,
    pub createtime: i64,
}

/// Insert a pending order. `Ok(false)` when the order number is taken (two renewals in the
/// same second drew the same random suffix); the caller draws another.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    o: &NewOrder<'_>,
) -> Result<bool, AppError> {
    let r = conn
        .exec_drop(
            format!(
                "INSERT INTO `{}` (order_no, tenant_id, user_id, plan, amount, status, createtime) \
                 VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                t.order
            ),
            (
                o.order_no.as_str(),
                o.tenant_id.0,
                o.user_id,
                o.plan,
                o.amount.decimal(),
                o.createtime,
            ),
        )
        .await;
    match r {
        Ok(()) => Ok(true),
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Record which gateway the user went to (the original's `pay_method` + `updatetime`), only
/// while the order is still unpaid (a paid order keeps the method that paid it).
pub async fn start_payment<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: OrderId,
    method: PayMethod,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET pay_method = ?, updatetime = ? WHERE id = ? AND status = 'pending'",
            t.order
        ),
        (method.as_str(), now, id.0),
    )
    .await?;
    Ok(())
}

/// Close a still-pending order (the original's `failed`) once no gateway will take it any
/// more. `false` when it was not pending (paid meanwhile).
pub async fn close<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: OrderId,
    now: i64,
) -> Result<bool, AppError> {
    let result = conn
        .exec_iter(
            format!(
                "UPDATE `{}` SET status = 'failed', updatetime = ? WHERE id = ? AND status = 'pending'",
                t.order
            ),
            (now, id.0),
        )
        .await?;
    let closed = result.affected_rows() == 1;
    result.drop_result().await?;
    Ok(closed)
}

/// What marking an order paid did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkPaid {
    /// This call paid the order and extended the tenant; `needs_provisioning` when the
    /// tenant has no resources yet and was left in `provisioning` for the worker.
    Paid {
        tenant: Option<TenantId>,
        needs_provisioning: bool,
        /// The order had been closed: the buyer paid anyway (the race both gateways document),
        /// and the payment is credited all the same.
        after_close: bool,
    },
    /// Someone else (a duplicate notification) already did it.
    AlreadyPaid,
}

/// The payment facts a verified notification carries.
pub struct Payment<'a> {
    pub order_id: OrderId,
    pub order_no: &'a OrderNo,
    pub amount_text: &'a str,
    pub method: PayMethod,
    pub trade_no: &'a str,
    /// The subscription lifecycle decides when a suspended tenant comes back
    /// (`ExpiryPolicy::manages_suspension`); off, a payment activates it as the original did.
    pub manages_suspension: bool,
}

/// The original's `_markOrderPaid`, exactly once: one transaction that locks the order row
/// and goes on only for an unpaid one (pending, or closed by us: money that arrived is
/// credited), so duplicate or concurrent notifications and queries (even on several
/// servers) extend the tenant once and write one `renew` row.
// Long on purpose: the whole exactly-once crediting is one transaction, read top to bottom.
pub async fn mark_paid(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    clock: &Clock,
    p: &Payment<'_>,
) -> Result<MarkPaid, AppError> {
    let now = clock.epoch();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let status: Option<String> = tx
        .exec_first(
            format!("SELECT status FROM `{}` WHERE id = ? FOR UPDATE", t.order),
            (p.order_id.0,),
        )
        .await?;
    let after_close = status.as_deref() == Some("failed");
    tx.exec_drop(
        format!(
            "UPDATE `{}` SET status = 'paid', pay_method = ?, pay_trade_no = ?, paid_at = ?, updatetime = ? \
             WHERE id = ? AND status IN ('pending', 'failed')",
            t.order
        ),
        (
            p.method.as_str(),
            p.trade_no,
            clock.datetime(),
            now,
            p.order_id.0,
        ),
    )
    .await?;
    if tx.affected_rows() != 1 {
        tx.rollback().await?;
        return Ok(MarkPaid::AlreadyPaid);
    }
    let tenant_id: Option<u32> = tx
        .exec_first(
            format!("SELECT tenant_id FROM `{}` WHERE id = ?", t.order),
            (p.order_id.0,),
        )
        .await?;
    let Some(current) = (match tenant_id {
        Some(id) => tenant::find_for_update(&mut tx, t, TenantId(id)).await?,
        None => None,
    }) else {
        // The original, too, kept the payment when the tenant was gone.
        tx.commit().await?;
        return Ok(MarkPaid::Paid {
            tenant: None,
            needs_provisioning: false,
            after_close,
        });
    };
    let base = current
        .expire_at
        .as_deref()
        .and_then(|e| clock.parse_local(e))
        .map(|e| e.timestamp())
        .unwrap_or(now)
        .max(now);
    let new_expire = clock.format_epoch(base + 30 * 86400, "%Y-%m-%d %H:%M:%S");
    let needs_provisioning = !current.has_embed();
    let status = if needs_provisioning {
        TenantStatus::Provisioning
    } else {
        TenantStatus::Active
    };
    let status = tenant::lifecycle::status_after_renewal(
        &mut tx,
        t,
        current.id,
        current.status,
        status,
        p.manages_suspension,
        now,
    )
    .await?;
    tenant::set_status_and_expiry(&mut tx, t, current.id, status, &new_expire).await?;
    let mut detail = format!("续费成功，订单 {}，金额 ¥{}", p.order_no, p.amount_text);
    if needs_provisioning {
        detail.push_str("（含资源开通）");
    }
    if after_close {
        detail.push_str("（订单已关闭后到账）");
    }
    log::insert(
        &mut tx,
        t,
        &NewLog {
            tenant_id: current.id.0,
            action: "renew",
            detail: &detail,
            status: LogStatus::Success,
            operator: "payment",
            createtime: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(MarkPaid::Paid {
        tenant: Some(current.id),
        needs_provisioning,
        after_close,
    })
}

/// One row of the admin's orders list: the order, its tenant's name, when it was paid.
#[derive(Clone, Debug)]
pub struct Listed {
    pub order: Order,
    pub tenant_name: Option<String>,
    pub paid_at: Option<String>,
}

/// A page of orders, newest first, and how many there are in all.
pub async fn page<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    page: u64,
    per_page: u64,
) -> Result<(u64, Vec<Listed>), AppError> {
    let total: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM `{}`", t.order))
        .await?;
    let cols: Vec<String> = COLUMNS.split(", ").map(|c| format!("o.{c}")).collect();
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {}, tn.tenant_name, CAST(o.paid_at AS CHAR) AS paid_at_text FROM `{}` o \
                 LEFT JOIN `{}` tn ON tn.id = o.tenant_id ORDER BY o.id DESC LIMIT {per_page} OFFSET {}",
                cols.join(", "),
                t.order,
                t.tenant,
                page.saturating_sub(1).saturating_mul(per_page)
            ),
            (),
        )
        .await?;
    let listed = rows
        .iter()
        .map(|r| {
            Ok(Listed {
                order: Order::from_row(r)?,
                tenant_name: col_text(r, "tenant_name"),
                paid_at: col_text(r, "paid_at_text"),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok((total.unwrap_or(0), listed))
}
