//! Plans, seats and prices of the public sign-up, exactly as the original priced them.

/// The form's `max` for extra seats; more is refused (the original had no limit).
pub const MAX_EXTRA_SEATS: i64 = 100;

/// Longest plan name we store (unknown names are kept as typed, like the original).
pub const MAX_PLAN_CHARS: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    Basic,
    Pro,
    Enterprise,
    /// Any other name: priced as basic, but the name is kept and shown (original behaviour).
    Other(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("套餐名称过长")]
    TooLong,
}

impl Plan {
    /// The submitted `plan` field: absent means basic (PHP `?? 'basic'`); anything present is
    /// taken as typed (not trimmed, as the original).
    pub fn from_field(raw: Option<&str>) -> Result<Plan, PlanError> {
        let Some(raw) = raw else {
            return Ok(Plan::Basic);
        };
        if let Some(known) = Plan::known(raw) {
            return Ok(known);
        }
        if raw.chars().count() > MAX_PLAN_CHARS {
            return Err(PlanError::TooLong);
        }
        Ok(Plan::Other(raw.to_string()))
    }

    /// One of the three plans the register page offers.
    pub fn known(raw: &str) -> Option<Plan> {
        match raw {
            "basic" => Some(Plan::Basic),
            "pro" => Some(Plan::Pro),
            "enterprise" => Some(Plan::Enterprise),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Plan::Basic => "basic",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
            Plan::Other(s) => s,
        }
    }

    /// The name pages show (unknown plans show their raw name).
    pub fn display_name(&self) -> &str {
        match self {
            Plan::Basic => "基础版",
            Plan::Pro => "专业版",
            Plan::Enterprise => "企业版",
            Plan::Other(s) => s,
        }
    }

    /// Seats and monthly price: basic 1 seat ¥50, pro 2 seats ¥60, enterprise 3 seats ¥70 plus
    /// ¥10 per extra seat. Extra seats always add to the count, but only enterprise pays for
    /// them (the original's rule).
    pub fn pricing(&self, extra: ExtraSeats) -> Pricing {
        let (base_seats, base_price) = match self {
            Plan::Pro => (2, 60),
            Plan::Enterprise => (3, 70),
            Plan::Basic | Plan::Other(_) => (1, 50),
        };
        let monthly_price = match self {
            Plan::Enterprise => base_price + extra.0 * 10,
            _ => base_price,
        };
        Pricing {
            seats: base_seats + extra.0,
            monthly_price,
        }
    }
}

/// Seats beyond the plan's own, `0..=MAX_EXTRA_SEATS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtraSeats(i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeatsError {
    #[error("额外席位数必须在 0 到 100 之间")]
    OutOfRange,
}

impl ExtraSeats {
    /// The `seats` field read as PHP's `(int)` did (`"3abc"` → 3, `"abc"` → 0, absent → 0);
    /// negative or more than the form's maximum is refused rather than priced.
    pub fn from_field(raw: Option<&str>) -> Result<ExtraSeats, SeatsError> {
        let n = raw.map(php_int_cast).unwrap_or(0);
        if (0..=MAX_EXTRA_SEATS).contains(&n) {
            Ok(ExtraSeats(n))
        } else {
            Err(SeatsError::OutOfRange)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// PHP's `(int)` of a string: leading whitespace, optional sign, digits; saturating instead
/// of PHP's float overflow (anything that large is out of range anyway).
fn php_int_cast(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pricing {
    /// `max_agents` of the tenant.
    pub seats: i64,
    /// Yuan per month.
    pub monthly_price: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(plan: &str, seats: &str) -> (i64, i64) {
        let p = Plan::from_field(Some(plan))
            .unwrap()
            .pricing(ExtraSeats::from_field(Some(seats)).unwrap());
        (p.seats, p.monthly_price)
    }

    #[test]
    fn prices_match_the_recordings() {
        assert_eq!(price("basic", "0"), (1, 50));
        assert_eq!(price("pro", "0"), (2, 60));
        assert_eq!(price("pro", "3"), (5, 60)); // register/008
        assert_eq!(price("enterprise", "2"), (5, 90)); // register/004
        assert_eq!(price("enterprise", "1"), (4, 80)); // register/016
        assert_eq!(price("enterprise", "0"), (3, 70)); // widened-schema/008
        assert_eq!(price("bogus", "5"), (6, 50)); // register/007
    }

    #[test]
    fn plan_field_is_taken_as_typed() {
        assert_eq!(Plan::from_field(None).unwrap(), Plan::Basic);
        assert_eq!(
            Plan::from_field(Some(" pro")).unwrap(),
            Plan::Other(" pro".into())
        );
        assert_eq!(Plan::from_field(Some("")).unwrap().as_str(), "");
        assert_eq!(Plan::Other("gold".into()).display_name(), "gold");
        assert_eq!(
            Plan::from_field(Some(&"x".repeat(51))),
            Err(PlanError::TooLong)
        );
    }

    #[test]
    fn seats_are_cast_like_php_and_bounded() {
        let s = |v: Option<&str>| ExtraSeats::from_field(v).map(ExtraSeats::get);
        assert_eq!(s(None), Ok(0));
        assert_eq!(s(Some("3abc")), Ok(3));
        assert_eq!(s(Some("abc")), Ok(0));
        assert_eq!(s(Some(" 7")), Ok(7));
        assert_eq!(s(Some("2.9")), Ok(2));
        assert_eq!(s(Some("100")), Ok(100));
        assert_eq!(s(Some("101")), Err(SeatsError::OutOfRange));
        assert_eq!(s(Some("-1")), Err(SeatsError::OutOfRange));
        assert_eq!(
            s(Some("99999999999999999999999")),
            Err(SeatsError::OutOfRange)
        );
    }
}
