//! Prometheus-format metrics at `/metrics`: requests by route and status, a latency histogram,
//! provision calls by outcome (counted in-process), and, read from the database at scrape
//! time so several instances agree, webhook outcomes and the provisioning backlog.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    provision: Mutex<BTreeMap<&'static str, u64>>,
    webhook_refusals: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// When each (method, reason) refusal was last logged, for [`Metrics::may_warn_webhook_refusal`].
    webhook_warned: Mutex<BTreeMap<(&'static str, &'static str), i64>>,
    /// Requests that carried `X-Forwarded-For` from a peer outside `trusted_proxies`.
    untrusted_forwarded: AtomicU64,
    /// When the last warning about them was logged (Unix seconds; 0 = never).
    untrusted_warned_at: std::sync::atomic::AtomicI64,
    /// Downloads of gateway certificates (`services::pay_keys`), by gateway and outcome.
    cert_downloads: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// Seconds between two logged warnings about the same kind of refused notification.
const REFUSAL_WARN_EVERY_SECS: i64 = 60;

/// The `method` label of a payment notification: the two gateways, or `other` for whatever
/// else a `payNotify` path named (anyone can send any, so the label set stays bounded).
pub fn webhook_method_label(method: &str) -> &'static str {
    match method {
        "alipay" => "alipay",
        "wechat" => "wechat",
        _ => "other",
    }
}

impl Metrics {
    /// One answered request. `route` is the action name (bounded set), never a raw path.
    pub fn record_request(&self, route: &'static str, status: u16, latency: Duration) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((route, status)).or_default() += 1;
        drop(map);
        let secs = latency.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// One call to the provision server: `ok`, `http_error`, `invalid_body`, `transport_error`.
    pub fn record_provision(&self, outcome: &'static str) {
        let mut map = self.provision.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(outcome).or_default() += 1;
    }

    /// One refused payment notification (`reason`: not_configured, unauthentic, mismatch,
    /// unknown_method). Counted per process; the database series below count every instance.
    pub fn record_webhook_refusal(&self, method: &'static str, reason: &'static str) {
        let mut map = self
            .webhook_refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry((method, reason)).or_default() += 1;
    }

    /// One download of a gateway's certificates (WeChat Pay's list, an Alipay certificate).
    pub fn record_cert_download(&self, gateway: &'static str, outcome: &'static str) {
        let mut map = self
            .cert_downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry((gateway, outcome)).or_default() += 1;
    }

    /// A request carried `X-Forwarded-For` from a peer we do not trust: the server sits behind
    /// a proxy that `trusted_proxies` does not name, so every member looks like that proxy
    /// (one sign-in limit for all, no `Secure` cookies). Returns whether to log it now (at
    /// most once a minute: a busy site must not flood the log with it).
    pub fn record_untrusted_forward(&self, now: i64) -> bool {
        self.untrusted_forwarded.fetch_add(1, Ordering::Relaxed);
        let last = self.untrusted_warned_at.load(Ordering::Relaxed);
        (last == 0 || now - last >= REFUSAL_WARN_EVERY_SECS || now < last)
            && self
                .untrusted_warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Whether a refusal of this kind may be logged now (at most one a minute per kind).
    pub fn may_warn_webhook_refusal(
        &self,
        method: &'static str,
        reason: &'static str,
        now: i64,
    ) -> bool {
        let mut map = self
            .webhook_warned
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(&(method, reason)) {
            Some(last) if now - last < REFUSAL_WARN_EVERY_SECS && now >= *last => false,
            _ => {
                map.insert((method, reason), now);
                true
            }
        }
    }

    /// The exposition text. Database-derived series are skipped (with a comment) when the
    /// database is unreachable, so a scrape still shows the in-process ones.
    /// The exposition text; `database` holds the series read from the tables (`None` when
    /// the database could not be read).
    pub fn render(&self, database: Option<&DatabaseSeries>) -> String {
        let mut out = String::new();
        out.push_str("# HELP chathub_requests_total Requests answered, by action and status.\n");
        out.push_str("# TYPE chathub_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "chathub_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP chathub_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE chathub_request_duration_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "chathub_request_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "chathub_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "chathub_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "chathub_request_duration_seconds_count {count}");
        out.push_str(
            "# HELP chathub_untrusted_forwarded_total Requests with X-Forwarded-For from a peer not in trusted_proxies.\n",
        );
        out.push_str("# TYPE chathub_untrusted_forwarded_total counter\n");
        let _ = writeln!(
            out,
            "chathub_untrusted_forwarded_total {}",
            self.untrusted_forwarded.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP chathub_provision_calls_total Calls to the provision server, by outcome.\n",
        );
        out.push_str("# TYPE chathub_provision_calls_total counter\n");
        for (outcome, n) in self
            .provision
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "chathub_provision_calls_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP chathub_webhook_refused_total Payment notifications refused, by method and reason.\n",
        );
        out.push_str("# TYPE chathub_webhook_refused_total counter\n");
        for ((method, reason), n) in self
            .webhook_refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "chathub_webhook_refused_total{{method=\"{method}\",reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP chathub_pay_cert_downloads_total Downloads of payment gateway certificates, by gateway and outcome.\n",
        );
        out.push_str("# TYPE chathub_pay_cert_downloads_total counter\n");
        for ((gateway, outcome), n) in self
            .cert_downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "chathub_pay_cert_downloads_total{{gateway=\"{gateway}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        match database {
            Some(series) => series.render_into(&mut out),
            None => out.push_str("# database unreachable: webhook and backlog series skipped\n"),
        }
        out
    }
}

/// What `/metrics` reads from the tables (`db::stats`).
pub struct DatabaseSeries {
    /// `(action, status, count)` of the `pay_notify_*` log rows.
    pub notifications: Vec<(String, String, i64)>,
    /// Tenants waiting for the provisioning worker.
    pub provisioning_backlog: i64,
    /// Gateway queries and closes, and how paid orders were credited.
    pub payments: PaymentSeries,
}

impl DatabaseSeries {
    fn render_into(&self, out: &mut String) {
        out.push_str("# HELP chathub_webhook_notifications Payment notifications logged, by method and verification.\n");
        out.push_str("# TYPE chathub_webhook_notifications gauge\n");
        // Bounded labels: any `payNotify` path makes a log row, so unknown methods fold into
        // `other`, and a status is either `success` or `failed`.
        let mut series: BTreeMap<(&'static str, &'static str), i64> = BTreeMap::new();
        for (action, status, n) in &self.notifications {
            let method = webhook_method_label(action.trim_start_matches("pay_notify_"));
            let status = if status == "success" {
                "success"
            } else {
                "failed"
            };
            *series.entry((method, status)).or_default() += n;
        }
        for ((method, status), n) in series {
            let _ = writeln!(
                out,
                "chathub_webhook_notifications{{method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP chathub_provisioning_queue Tenants waiting for the provisioning worker.\n",
        );
        out.push_str("# TYPE chathub_provisioning_queue gauge\n");
        let _ = writeln!(
            out,
            "chathub_provisioning_queue {}",
            self.provisioning_backlog
        );
        self.payments.render_into(out);
    }
}

/// What `/metrics` shows of the payment queries (`services::pay_query`), read from the log.
#[derive(Default)]
pub struct PaymentSeries {
    /// `(action, outcome, count)` of the `pay_query_*` / `pay_close_*` log rows.
    pub calls: Vec<(String, String, i64)>,
    /// `(pay_method, count)` of paid orders.
    pub paid: Vec<(String, i64)>,
    /// `(action, count)` of `pay_query_*` rows that credited an order.
    pub credited_by_query: Vec<(String, i64)>,
}

/// The outcomes a query or close row can carry (anything else folds into `other`).
const PAYMENT_OUTCOMES: &[&str] = &[
    "credited",
    "paid",
    "not_paid",
    "closed",
    "already_paid",
    "unreachable",
    "unauthentic",
    "mismatch",
    "rejected",
];

impl PaymentSeries {
    fn render_into(&self, out: &mut String) {
        out.push_str("# HELP chathub_payment_gateway_calls Order queries and closes at the gateways, by outcome.\n");
        out.push_str("# TYPE chathub_payment_gateway_calls gauge\n");
        let mut calls: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
        for (action, outcome, n) in &self.calls {
            let (call, method) = action.rsplit_once('_').unwrap_or(("", ""));
            let call = if call == "pay_close" {
                "close"
            } else {
                "query"
            };
            let outcome = PAYMENT_OUTCOMES
                .iter()
                .find(|o| **o == outcome)
                .copied()
                .unwrap_or("other");
            *calls
                .entry((call, webhook_method_label(method), outcome))
                .or_default() += n;
        }
        for ((call, method, outcome), n) in calls {
            let _ = writeln!(
                out,
                "chathub_payment_gateway_calls{{call=\"{call}\",method=\"{method}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        // Many by query means notifications are not arriving (COMPAT.md#payment-query-and-expiry).
        out.push_str("# HELP chathub_payments_credited Paid orders, by gateway and by what told us (notification or query).\n");
        out.push_str("# TYPE chathub_payments_credited gauge\n");
        for method in ["alipay", "wechat"] {
            let paid: i64 = self
                .paid
                .iter()
                .filter(|(m, _)| m == method)
                .map(|(_, n)| n)
                .sum();
            let by_query: i64 = self
                .credited_by_query
                .iter()
                .filter(|(a, _)| a.strip_prefix("pay_query_") == Some(method))
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                out,
                "chathub_payments_credited{{method=\"{method}\",by=\"notification\"}} {}",
                (paid - by_query).max(0)
            );
            let _ = writeln!(
                out,
                "chathub_payments_credited{{method=\"{method}\",by=\"query\"}} {by_query}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_every_bucket_at_or_above_it() {
        let m = Metrics::default();
        m.record_request("landing", 200, Duration::from_millis(30));
        m.record_request("landing", 200, Duration::from_millis(2));
        m.record_provision("ok");
        m.record_webhook_refusal(webhook_method_label("wechat"), "not_configured");
        m.record_webhook_refusal(webhook_method_label("\u{1b}[2J"), "unknown_method");
        assert_eq!(
            m.webhook_refusals.lock().unwrap()[&("other", "unknown_method")],
            1
        );
        assert!(m.may_warn_webhook_refusal("wechat", "not_configured", 100));
        assert!(!m.may_warn_webhook_refusal("wechat", "not_configured", 159));
        assert!(m.may_warn_webhook_refusal("wechat", "unauthentic", 159));
        assert!(m.may_warn_webhook_refusal("wechat", "not_configured", 160));
        assert_eq!(m.latency_buckets[0].load(Ordering::Relaxed), 1); // <= 5 ms
        assert_eq!(m.latency_buckets[3].load(Ordering::Relaxed), 2); // <= 50 ms
        assert_eq!(m.requests.lock().unwrap()[&("landing", 200)], 2);
    }
}
