//! Orders and members: the ids and states the payment flow and the member pages share.

use serde::{Deserialize, Serialize};

/// `fa_user.id`: its own type, so a tenant or order id cannot be passed where a member is meant.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UserId(pub u32);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderId(pub u32);

/// `fa_chathub_order.order_no`, the `out_trade_no` both gateways know the order by. Ours are
/// `CH` + YmdHis + [`OrderNo::RANDOM_DIGITS`] random digits; the PHP addon's (pre-switch
/// orders) are shorter. Anything that could never be in the column is not an order number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderNo(String);

impl OrderNo {
    /// Random digits after the `CH` + YmdHis of a new order number: 32 characters in all, the
    /// most WeChat Pay's `out_trade_no` takes (Alipay takes 64; the column 50), about 53 bits
    /// no one can guess.
    pub const RANDOM_DIGITS: usize = 16;
    /// The column's width (`varchar(50)`).
    const MAX_LEN: usize = 50;

    /// A fresh number for an order created at `stamp` (YmdHis, the site's time zone).
    pub fn generate(stamp: &str) -> OrderNo {
        let digits: String = (0..Self::RANDOM_DIGITS)
            .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
            .collect();
        OrderNo(format!("CH{stamp}{digits}"))
    }

    /// A number as a request or a gateway gave it; `None` when it cannot name an order.
    pub fn parse(raw: &str) -> Option<OrderNo> {
        (!raw.is_empty() && raw.len() <= Self::MAX_LEN).then(|| OrderNo(raw.to_string()))
    }

    /// A number read back from the column.
    pub fn from_column(stored: String) -> OrderNo {
        OrderNo(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrderNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Failed,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        [
            OrderStatus::Pending,
            OrderStatus::Paid,
            OrderStatus::Failed,
            OrderStatus::Refunded,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}
