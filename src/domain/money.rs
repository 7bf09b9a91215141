//! Money and how it is paid: exact amounts in fen, and the payment methods.

use std::fmt;

/// An amount of yuan held as whole fen, so that comparisons between what a gateway reports
/// and what the order says are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money {
    cents: i64,
}

impl Money {
    pub fn from_cents(cents: i64) -> Money {
        Money { cents }
    }

    pub fn from_yuan(yuan: i64) -> Money {
        Money { cents: yuan * 100 }
    }

    pub fn cents(self) -> i64 {
        self.cents
    }

    /// Parse a decimal amount as stored in `decimal(10,2)` columns and sent by Alipay
    /// (`60`, `60.0`, `60.00`). More than two decimals, signs or junk are rejected.
    pub fn parse(s: &str) -> Option<Money> {
        let s = s.trim();
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty()
            || whole.len() > 12
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac_cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        Some(Money {
            cents: whole * 100 + frac_cents,
        })
    }

    /// `60.00`: what the database stores and Alipay's `total_amount` wants.
    pub fn decimal(self) -> String {
        format!("{}.{:02}", self.cents / 100, self.cents % 100)
    }

    /// PHP's `number_format($amount, 2)`: thousands separated by commas (`1,234.50`).
    pub fn number_format(self) -> String {
        let whole = (self.cents / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{grouped}.{:02}", self.cents % 100)
    }

    pub fn is_positive(self) -> bool {
        self.cents > 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decimal())
    }
}

/// How an order was (or is being) paid; the `pay_method` column and the `payNotify` path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayMethod {
    Alipay,
    Wechat,
}

impl PayMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Alipay => "alipay",
            PayMethod::Wechat => "wechat",
        }
    }

    pub fn parse(s: &str) -> Option<PayMethod> {
        match s {
            "alipay" => Some(PayMethod::Alipay),
            "wechat" => Some(PayMethod::Wechat),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_decimal_columns_exactly() {
        assert_eq!(Money::parse("60.00"), Some(Money::from_cents(6000)));
        assert_eq!(Money::parse("0.01"), Some(Money::from_cents(1)));
        assert_eq!(Money::parse("60"), Some(Money::from_cents(6000)));
        assert_eq!(Money::parse("60.5"), Some(Money::from_cents(6050)));
        assert_eq!(Money::parse("60.001"), None);
        assert_eq!(Money::parse("-1.00"), None);
        assert_eq!(Money::parse("1e3"), None);
        assert_eq!(Money::parse(""), None);
        assert_eq!(Money::from_cents(123456).number_format(), "1,234.56");
        assert_eq!(Money::from_cents(6000).number_format(), "60.00");
        assert_eq!(Money::from_cents(5).decimal(), "0.05");
    }
}
