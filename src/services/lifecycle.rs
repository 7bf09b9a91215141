//! The subscription lifecycle (README#subscription-lifecycle): where a tenant stands between
//! its expiry, the grace period, suspension for non-payment and a paid renewal, as the member
//! page and the admin list show it. The worker's part, suspending and bringing back, is
//! [`sweep`].
//!
//! Everything here follows `ExpiryPolicy`; with its settings empty every tenant is
//! [`Standing::Current`] and nothing is shown or done.

pub mod sweep;

use crate::clock::Clock;
use crate::config::ExpiryPolicy;
use crate::db::tenant::lifecycle::Marker;
use crate::domain::tenant::TenantStatus;

/// Where a tenant stands, for a notice or a badge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Nothing to say (or the lifecycle is off).
    Current,
    /// Active, expires within the reminder window, in `days` days (rounded up).
    ExpiresSoon { days: i64, on: String },
    /// Active and past `expire_at`; `suspend_on` (Y-m-d H:i) when suspension is configured.
    Expired { suspend_on: Option<String> },
    /// Suspended by the worker for non-payment; `comes_back` when a payment brings it back.
    SuspendedForExpiry { comes_back: bool },
    /// Suspended (by an admin, or for expiry without reactivation) although a renewal has
    /// been paid since: the admin decides.
    PaidWhileSuspended,
}

impl Standing {
    /// The admin list's badge text (`lifecycle_text`); empty for `Current`.
    pub fn admin_label(&self) -> &'static str {
        match self {
            Standing::Current => "",
            Standing::ExpiresSoon { .. } => "即将到期",
            Standing::Expired {
                suspend_on: Some(_),
            } => "宽限期",
            Standing::Expired { suspend_on: None } => "已到期",
            Standing::SuspendedForExpiry { .. } => "到期暂停",
            Standing::PaidWhileSuspended => "暂停期间已续费",
        }
    }
}

/// Whether any of the lifecycle's settings is on (the pages show its notices and filter).
pub fn is_on(policy: &ExpiryPolicy) -> bool {
    policy.manages_suspension() || policy.remind_window() > 0
}

/// Where a tenant with this status, `expire_at` (site-local DATETIME) and lifecycle row
/// stands now.
pub fn standing(
    policy: &ExpiryPolicy,
    clock: &Clock,
    status: TenantStatus,
    expire_at: Option<&str>,
    marker: Option<&Marker>,
) -> Standing {
    if !is_on(policy) {
        return Standing::Current;
    }
    let marker = marker.cloned().unwrap_or_default();
    match status {
        TenantStatus::Suspended if marker.suspended_for_expiry => {
            if marker.paid_at > 0 && !policy.unsuspend_on_payment {
                Standing::PaidWhileSuspended
            } else {
                Standing::SuspendedForExpiry {
                    comes_back: policy.unsuspend_on_payment,
                }
            }
        }
        TenantStatus::Suspended if marker.paid_at > 0 => Standing::PaidWhileSuspended,
        TenantStatus::Active => active_standing(policy, clock, expire_at),
        _ => Standing::Current,
    }
}

fn active_standing(policy: &ExpiryPolicy, clock: &Clock, expire_at: Option<&str>) -> Standing {
    let Some(at) = expire_at.and_then(|e| clock.parse_local(e)) else {
        return Standing::Current;
    };
    let left = at.timestamp() - clock.epoch();
    if left <= 0 {
        let suspend_on = policy
            .suspend_after_days
            .map(|d| clock.format_epoch(at.timestamp() + i64::from(d) * 86_400, "%Y-%m-%d %H:%M"));
        if suspend_on.is_none() && policy.remind_window() == 0 {
            return Standing::Current;
        }
        return Standing::Expired { suspend_on };
    }
    let days = (left + 86_399) / 86_400;
    if days <= i64::from(policy.remind_window()) {
        return Standing::ExpiresSoon {
            days,
            on: at.format("%Y-%m-%d").to_string(),
        };
    }
    Standing::Current
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn clock() -> Clock {
        let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        Clock::fake(
            tz,
            chrono::Utc.with_ymd_and_hms(2026, 6, 1, 4, 0, 0).unwrap(),
        )
    }

    fn on() -> ExpiryPolicy {
        ExpiryPolicy {
            suspend_after_days: Some(3),
            remind_days: vec![7, 3, 1],
            unsuspend_on_payment: true,
        }
    }

    #[test]
    fn off_says_nothing_whatever_the_tenant() {
        let off = ExpiryPolicy::default();
        let paid = Marker {
            suspended_for_expiry: true,
            paid_at: 1,
        };
        for (status, exp) in [
            (TenantStatus::Active, "2026-06-02 12:00:00"),
            (TenantStatus::Active, "2020-01-01 00:00:00"),
            (TenantStatus::Suspended, "2020-01-01 00:00:00"),
        ] {
            assert_eq!(
                standing(&off, &clock(), status, Some(exp), Some(&paid)),
                Standing::Current
            );
        }
    }

    #[test]
    fn an_active_tenant_walks_from_reminder_to_grace() {
        let c = clock();
        // Now is 2026-06-01 12:00 local.
        let at = |e: &str| standing(&on(), &c, TenantStatus::Active, Some(e), None);
        assert_eq!(at("2026-06-20 12:00:00"), Standing::Current);
        assert_eq!(
            at("2026-06-03 11:00:00"),
            Standing::ExpiresSoon {
                days: 2,
                on: "2026-06-03".into()
            }
        );
        assert_eq!(
            at("2026-05-31 12:00:00"),
            Standing::Expired {
                suspend_on: Some("2026-06-03 12:00".into())
            }
        );
        assert_eq!(at("2026-05-31 12:00:00").admin_label(), "宽限期");
    }

    #[test]
    fn a_paid_admin_suspension_is_the_admins_call() {
        let c = clock();
        let paid = Marker {
            suspended_for_expiry: false,
            paid_at: 5,
        };
        assert_eq!(
            standing(&on(), &c, TenantStatus::Suspended, None, Some(&paid)),
            Standing::PaidWhileSuspended
        );
        assert_eq!(
            standing(&on(), &c, TenantStatus::Suspended, None, None),
            Standing::Current
        );
        let ours = Marker {
            suspended_for_expiry: true,
            paid_at: 0,
        };
        assert_eq!(
            standing(&on(), &c, TenantStatus::Suspended, None, Some(&ours)),
            Standing::SuspendedForExpiry { comes_back: true }
        );
    }
}
