//! The server's notion of "now".
//!
//! `CHATHUB_FAKE_NOW` (RFC 3339) pins the clock's starting point so recorded fixtures replay
//! deterministically; the clock still ticks from there so retries and back-offs behave.

use std::time::Instant;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

#[derive(Clone, Debug)]
pub struct Clock {
    tz: FixedOffset,
    fake: Option<(DateTime<Utc>, Instant)>,
}

impl Clock {
    pub fn system(tz: FixedOffset) -> Clock {
        Clock { tz, fake: None }
    }

    pub fn fake(tz: FixedOffset, start: DateTime<Utc>) -> Clock {
        Clock {
            tz,
            fake: Some((start, Instant::now())),
        }
    }

    /// Reads `CHATHUB_FAKE_NOW`; `Err` carries a message naming the variable.
    pub fn from_env(tz: FixedOffset) -> Result<Clock, String> {
        match std::env::var("CHATHUB_FAKE_NOW") {
            Ok(v) if !v.trim().is_empty() => DateTime::parse_from_rfc3339(v.trim())
                .or_else(|_| DateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M:%S%:z"))
                .map(|t| Clock::fake(tz, t.with_timezone(&Utc)))
                .map_err(|e| format!("CHATHUB_FAKE_NOW: not an RFC 3339 time ({e})")),
            _ => Ok(Clock::system(tz)),
        }
    }

    pub fn is_fake(&self) -> bool {
        self.fake.is_some()
    }

    pub fn now_utc(&self) -> DateTime<Utc> {
        match self.fake {
            Some((start, at)) => {
                start + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
            }
            None => Utc::now(),
        }
    }

    /// Local time in the site's zone (what PHP's `date()` printed).
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.now_utc().with_timezone(&self.tz)
    }

    /// Unix seconds (PHP's `time()`), as written to `createtime`/`updatetime` columns.
    pub fn epoch(&self) -> i64 {
        self.now_utc().timestamp()
    }

    pub fn tz(&self) -> FixedOffset {
        self.tz
    }

    /// `Y-m-d H:i:s` in the site's zone, the format of every DATETIME column.
    pub fn datetime(&self) -> String {
        self.now().format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// Interpret a DATETIME column value (site-local) as an instant.
    pub fn parse_local(&self, s: &str) -> Option<DateTime<FixedOffset>> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
        self.tz.from_local_datetime(&naive).single()
    }

    /// Format a Unix timestamp in the site's zone.
    pub fn format_epoch(&self, epoch: i64, fmt: &str) -> String {
        match self.tz.timestamp_opt(epoch, 0).single() {
            Some(t) => t.format(fmt).to_string(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_starts_at_the_given_instant_in_site_time() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let start = DateTime::parse_from_rfc3339("2026-11-25T07:05:49+08:00").unwrap();
        let c = Clock::fake(tz, start.with_timezone(&Utc));
        assert_eq!(&c.datetime()[..16], "2026-11-25 07:05");
        assert!((c.epoch() - 1795561549).abs() <= 1);
        assert_eq!(
            c.format_epoch(1779000000, "%Y-%m-%d %H:%M"),
            "2026-05-17 14:40"
        );
    }
}
