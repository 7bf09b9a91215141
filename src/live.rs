//! `chathub check --live`: the first days after a switch, summarised from the shared tables
//! (so every instance's work counts) and, when given, a running server's `/metrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::*;

use crate::check::{CheckLine, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

/// A tenant in `provisioning` longer than this is stuck (the worker retries within minutes).
const STUCK_AFTER_SECS: i64 = 3600;

pub async fn live_report(
    config: &Config,
    clock: &Clock,
    hours: u32,
    metrics_url: Option<&str>,
) -> Vec<CheckLine> {
    let mut out = Vec::new();
    let since = clock.epoch() - i64::from(hours) * 3600;
    match Db::new(config) {
        Ok(db) => match tables_report(&db, since, clock.epoch(), hours).await {
            Ok(lines) => out.extend(lines),
            Err(e) => out.push(line(
                "database",
                Outcome::Fail(format!("cannot read the tables: {e}")),
            )),
        },
        Err(e) => out.push(line("database", Outcome::Fail(e.to_string()))),
    }
    match metrics_url {
        Some(url) => out.extend(metrics_report(url).await),
        // Silence here would read as "no errors".
        None => out.push(line(
            "error rates",
            Outcome::Warn(
                "not checked: pass --metrics-url http://127.0.0.1:8080/metrics (the running \
                 server's counters) to see server errors by route"
                    .into(),
            ),
        )),
    }
    out
}

/// A stored or fetched value as it may go to a terminal: control characters (escape
/// sequences, carriage returns, bells) and the invisible characters that reorder text are
/// shown as `\u{..}` instead of acting on the operator's terminal.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let reorders = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || reorders {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn line(name: &'static str, outcome: Outcome) -> CheckLine {
    CheckLine { name, outcome }
}

// Long on purpose: the report's sections in the order they are printed.
async fn tables_report(
    db: &Db,
    since: i64,
    now: i64,
    hours: u32,
) -> Result<Vec<CheckLine>, crate::error::AppError> {
    let mut conn = db.conn().await?;
    let t = &db.t;
    let mut out = Vec::new();

    let rows: Vec<(String, String, i64)> = conn
        .exec(
            format!(
                "SELECT action, status, COUNT(*) FROM `{}` WHERE action LIKE 'pay\\_notify\\_%' AND createtime >= ? \
                 GROUP BY action, status ORDER BY action, status",
                t.log
            ),
            (since,),
        )
        .await?;
    let mut by_method: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (action, status, n) in rows {
        // The method comes from whatever `payNotify` path someone sent.
        let e = by_method
            .entry(printable(action.trim_start_matches("pay_notify_")))
            .or_default();
        if status == "success" {
            e.0 += n
        } else {
            e.1 += n
        }
    }
    let failed: i64 = by_method.values().map(|v| v.1).sum();
    let summary = if by_method.is_empty() {
        format!("no payment notifications in the last {hours} h")
    } else {
        by_method
            .iter()
            .map(|(m, (ok, bad))| format!("{m}: {ok} verified, {bad} refused"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    out.push(line(
        "webhooks",
        if failed > 0 {
            Outcome::Warn(summary)
        } else {
            Outcome::Ok(summary)
        },
    ));

    // Since when a tenant waits: its last log row that is not a worker retry (the sign-up,
    // payment or reprovision that put it in `provisioning`), else its creation. Each failed
    // retry writes a row, so counting those would keep a tenant "active" forever.
    let backlog: Vec<(u32, String, Option<i64>, Option<i64>)> = conn
        .query(format!(
            "SELECT t.id, t.status, COALESCE(t.createtime, t.updatetime), (SELECT MAX(l.createtime) FROM `{log}` l WHERE l.tenant_id = t.id \
             AND NOT (l.action = 'reprovision' AND l.operator = 'system')) \
             FROM `{tenant}` t WHERE t.status = 'provisioning' OR (t.status = 'pending' \
             AND (t.embed_code IS NULL OR t.embed_code = '') AND t.config LIKE '%provision\\_retry%') ORDER BY t.id",
            log = t.log,
            tenant = t.tenant
        ))
        .await?;
    let stuck: Vec<u32> = backlog
        .iter()
        .filter(|(_, status, created, entered)| {
            let since = entered.or(*created).unwrap_or(0);
            status == "provisioning" && now - since > STUCK_AFTER_SECS
        })
        .map(|(id, ..)| *id)
        .collect();
    out.push(line(
        "provisioning backlog",
        if backlog.is_empty() {
            Outcome::Ok("no tenant waits for provisioning".into())
        } else {
            Outcome::Warn(format!("{} tenant(s) wait for the worker", backlog.len()))
        },
    ));
    out.push(line(
        "stuck tenants",
        if stuck.is_empty() {
            Outcome::Ok("none in provisioning for over an hour".into())
        } else {
            Outcome::Fail(format!(
                "in provisioning for over an hour: tenant ids {stuck:?}"
            ))
        },
    ));

    // The worker's retries (`reprovision` by `system`) are named apart from the reprovisions
    // members and admins asked for.
    let failures: Vec<(String, i64)> = conn
        .exec(
            format!(
                "SELECT IF(action = 'reprovision' AND operator = 'system', 'worker retries', action) a, COUNT(*) \
                 FROM `{}` WHERE status = 'failed' AND createtime >= ? \
                 AND action IN ('register', 'reprovision', 'suspend', 'activate') GROUP BY a ORDER BY a",
                t.log
            ),
            (since,),
        )
        .await?;
    out.push(line(
        "provisioning failures",
        if failures.is_empty() {
            Outcome::Ok(format!("none logged in the last {hours} h"))
        } else {
            Outcome::Warn(
                failures
                    .iter()
                    .map(|(a, n)| format!("{a}: {n} failed"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        },
    ));
    out.extend(payments_report(&mut conn, t, since, now, hours).await?);
    out.push(reconcile_report(&mut conn, t).await?);
    Ok(out)
}

/// Past its deadline by this much, a still-pending gateway order means closing it failed.
const OVERDUE_AFTER_SECS: i64 = 15 * 60;

/// Payments found by query rather than notification (many: notifications are not arriving),
/// and gateway orders left pending past their deadline (COMPAT.md#payment-query-and-expiry).
async fn payments_report(
    conn: &mut mysql_async::Conn,
    t: &crate::db::Tables,
    since: i64,
    now: i64,
    hours: u32,
) -> Result<Vec<CheckLine>, crate::error::AppError> {
    let by_query: Option<i64> = conn
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM `{}` WHERE action LIKE 'pay\\_query\\_%' AND detail LIKE '% credited' \
                 AND createtime >= ?",
                t.log
            ),
            (since,),
        )
        .await?;
    let all: Option<i64> = conn
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM `{}` WHERE action = 'renew' AND operator = 'payment' AND createtime >= ?",
                t.log
            ),
            (since,),
        )
        .await?;
    let (by_query, all) = (
        by_query.unwrap_or(0),
        all.unwrap_or(0).max(by_query.unwrap_or(0)),
    );
    let summary = format!(
        "{by_query} of {all} payment(s) in the last {hours} h were found by query, not notification"
    );
    // One lost notification happens; most of them lost is a site the gateways cannot reach.
    let share = if by_query >= 2 && by_query * 2 > all {
        Outcome::Warn(format!(
            "{summary}: notifications are not arriving (check public_base_url, nginx and the firewall)"
        ))
    } else {
        Outcome::Ok(summary)
    };
    let overdue = crate::db::pay_query::overdue(conn, t, now, OVERDUE_AFTER_SECS).await?;
    let late = if overdue > 0 {
        Outcome::Warn(format!(
            "{overdue} order(s) still pending over 15 min past their deadline: the gateways could not close them (see the pay_close_* log rows)"
        ))
    } else {
        Outcome::Ok("no gateway order pending past its deadline".into())
    };
    Ok(vec![
        line("payments by query", share),
        line("expired orders", late),
    ])
}

/// The newest reconciliations (`chathub reconcile`, the daily job): a bill that could not be
/// had, or that differs from the orders, is a warning until a later run of that date is clean.
async fn reconcile_report(
    conn: &mut mysql_async::Conn,
    t: &crate::db::Tables,
) -> Result<CheckLine, crate::error::AppError> {
    let rows = crate::db::reconcile::latest(conn, t, 14).await?;
    if rows.is_empty() {
        return Ok(line(
            "reconciliation",
            Outcome::Ok(
                "no bill reconciled yet (chathub reconcile --date, or pay_reconcile_daily)".into(),
            ),
        ));
    }
    let mut bad = Vec::new();
    for r in &rows {
        let findings: Vec<serde_json::Value> =
            serde_json::from_str(&r.findings).unwrap_or_default();
        if r.status == "failed" {
            bad.push(format!("{} {}: failed", r.bill_date, printable(&r.method)));
        } else if !findings.is_empty() {
            bad.push(format!(
                "{} {}: {} difference(s)",
                r.bill_date,
                printable(&r.method),
                findings.len()
            ));
        }
    }
    let newest = &rows[0].bill_date;
    Ok(line(
        "reconciliation",
        if bad.is_empty() {
            Outcome::Ok(format!("bills up to {newest} match the orders"))
        } else {
            Outcome::Warn(format!(
                "{} (see the admin console's 对账 page)",
                bad.join("; ")
            ))
        },
    ))
}

/// Server errors by route, and requests forwarded by an untrusted proxy, from a running
/// instance's `/metrics` (counts since it started).
// Long on purpose: the report's sections in the order they are printed.
async fn metrics_report(url: &str) -> Vec<CheckLine> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let text = match client.get(url).send().await {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            return vec![line(
                "error rates",
                Outcome::Fail(format!("{url} answered {}", r.status())),
            )];
        }
        Err(_) => {
            return vec![line(
                "error rates",
                Outcome::Fail(format!("{url} unreachable")),
            )];
        }
    };
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.starts_with("chathub_requests_total{"))
    {
        let route = l
            .split("route=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        let status: u16 = l
            .split("status=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let n: u64 = l
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let e = totals.entry(printable(route)).or_default();
        e.0 += n;
        if status >= 500 {
            e.1 += n;
        }
    }
    let bad: Vec<String> = totals
        .iter()
        .filter(|(_, (_, errors))| *errors > 0)
        .map(|(route, (all, errors))| format!("{route}: {errors}/{all} server errors"))
        .collect();
    let errors = if bad.is_empty() {
        line(
            "error rates",
            Outcome::Ok(format!(
                "no server errors over {} route(s) since start",
                totals.len()
            )),
        )
    } else {
        line("error rates", Outcome::Warn(bad.join("; ")))
    };
    let untrusted: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("chathub_untrusted_forwarded_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let proxy = if untrusted == 0 {
        line(
            "trusted_proxies",
            Outcome::Ok("no request forwarded by an untrusted proxy since start".into()),
        )
    } else {
        line(
            "trusted_proxies",
            Outcome::Fail(format!(
                "{untrusted} request(s) carried X-Forwarded-For from an address not in \
                 trusted_proxies: every member is seen as the proxy; set trusted_proxies to \
                 nginx's address"
            )),
        )
    };
    vec![errors, proxy]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("\u{1b}[2Jx\r\u{7}"), "\\u{1b}[2Jx\\u{d}\\u{7}");
        assert_eq!(printable("wechat 微信"), "wechat 微信");
        assert_eq!(printable("a\u{202e}b\u{9b}"), "a\\u{202e}b\\u{9b}");
    }
}
