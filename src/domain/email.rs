//! A member's email address as the sign-up accepts it.

/// `fa_user.email` is varchar(100); the tenant's `email` (255) is wider.
pub const MAX_EMAIL_CHARS: usize = 100;

/// A syntactically valid address of at most [`MAX_EMAIL_CHARS`] characters, trimmed. The
/// case is kept as typed (the original stored it as typed; MySQL compares case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("邮箱格式不正确")]
    Invalid,
    #[error("邮箱过长（最多 100 个字符）")]
    TooLong,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let s = raw.trim();
        if s.chars().count() > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Invalid)?;
        if valid_local(local) && valid_domain(domain) {
            Ok(Email(s.to_string()))
        } else {
            Err(EmailError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5322 dot-atom: printable ASCII specials allowed, no leading/trailing/double dots.
fn valid_local(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || SPECIALS.contains(c))
}

/// A host name with at least two labels of letters, digits and inner hyphens.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_trimmed() {
        assert_eq!(
            Email::parse(" alice@example.com ").unwrap().as_str(),
            "alice@example.com"
        );
        for ok in [
            "newco-ajax@example.com",
            "a.b+tag@mail.example.co.uk",
            "Bob@Example.COM",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b@example.com",
            "alice@localhost",
            "al ice@example.com",
            "alice@exa_mple.com",
            ".alice@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "<script>@example.com",
            "用户@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
    }

    #[test]
    fn length_follows_the_fa_user_column() {
        let host = |n: usize| format!("alice@{}.{}.com", "a".repeat(60), "b".repeat(n));
        let at_limit = host(29);
        assert_eq!(at_limit.len(), MAX_EMAIL_CHARS);
        assert!(Email::parse(&at_limit).is_ok());
        assert_eq!(Email::parse(&host(30)), Err(EmailError::TooLong));
    }
}
