//! The gateways' memory of orders: what a query answers and a close changes. One store per
//! stand-in (a test's fake, or the dev front), shared by its API and its "pay" pages.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeStatus {
    /// Opened (the cashier was shown, or the Native order placed), not paid.
    Waiting,
    Paid,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    pub out_trade_no: String,
    pub total_cents: i64,
    pub status: TradeStatus,
    /// The gateway's own number, once paid.
    pub trade_no: String,
}

/// What closing a trade did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    Closed,
    /// Nobody opened it: the gateway has no such trade.
    Unknown,
    AlreadyPaid,
}

#[derive(Clone, Default)]
pub struct Trades(Arc<Mutex<BTreeMap<String, Trade>>>);

impl Trades {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Trade>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The buyer reached the cashier (or the merchant placed a Native order).
    pub fn open(&self, out_trade_no: &str, total_cents: i64) {
        self.with(|m| {
            m.entry(out_trade_no.to_string()).or_insert(Trade {
                out_trade_no: out_trade_no.to_string(),
                total_cents,
                status: TradeStatus::Waiting,
                trade_no: String::new(),
            });
        });
    }

    /// The buyer paid: `None` when the trade is closed (a closed order takes no money).
    pub fn pay(&self, out_trade_no: &str, total_cents: i64, trade_no: &str) -> Option<Trade> {
        self.open(out_trade_no, total_cents);
        self.with(|m| {
            let t = m.get_mut(out_trade_no)?;
            if t.status == TradeStatus::Closed {
                return None;
            }
            t.status = TradeStatus::Paid;
            t.trade_no = trade_no.to_string();
            Some(t.clone())
        })
    }

    pub fn get(&self, out_trade_no: &str) -> Option<Trade> {
        self.with(|m| m.get(out_trade_no).cloned())
    }

    pub fn close(&self, out_trade_no: &str) -> Closing {
        self.with(|m| match m.get_mut(out_trade_no) {
            None => Closing::Unknown,
            Some(t) if t.status == TradeStatus::Paid => Closing::AlreadyPaid,
            Some(t) => {
                t.status = TradeStatus::Closed;
                Closing::Closed
            }
        })
    }
}

/// How a test's fake answers, beyond the protocol: to show the server bounded and
/// unmoved by a gateway that hangs, fails or lies.
#[derive(Clone, Debug, Default)]
pub enum Behaviour {
    #[default]
    Normal,
    /// Accept the connection, never answer.
    Hang,
    /// Answer this status, these headers and this body to everything.
    Canned(u16, Vec<(String, String)>, String),
}

#[derive(Clone, Default)]
pub struct Switch(Arc<Mutex<Behaviour>>);

impl Switch {
    pub fn set(&self, b: Behaviour) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = b;
    }

    pub fn get(&self) -> Behaviour {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
