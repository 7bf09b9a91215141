//! The free-text fields of the public sign-up, bounded by the columns they end up in.

/// `fa_chathub_tenant.tenant_name` is varchar(100).
pub const MAX_COMPANY_NAME_CHARS: usize = 100;
/// `fa_user.nickname` is varchar(50): a new account takes the company name as nickname.
pub const MAX_NICKNAME_CHARS: usize = 50;
/// `fa_chathub_tenant.domain` is varchar(255).
pub const MAX_DOMAIN_CHARS: usize = 255;
/// Notes live inside the tenant's `config` TEXT column (64 KiB, `\uXXXX`-escaped).
pub const MAX_NOTES_CHARS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("公司名称过长（最多 100 个字符）")]
    CompanyNameTooLong,
    #[error("公司名称包含无效字符")]
    CompanyNameInvalid,
    #[error("网站域名过长（最多 255 个字符）")]
    DomainTooLong,
    #[error("网站域名包含无效字符")]
    DomainInvalid,
    #[error("备注过长（最多 1000 个字符）")]
    NotesTooLong,
}

/// PHP's `trim()` followed by `!$x`: empty and `"0"` count as not filled in.
pub fn php_filled(raw: Option<&str>) -> Option<&str> {
    let t = raw?.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0b']);
    (!t.is_empty() && t != "0").then_some(t)
}

/// Trimmed, non-empty, at most [`MAX_COMPANY_NAME_CHARS`], no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyName(String);

impl CompanyName {
    pub fn parse(filled: &str) -> Result<CompanyName, FieldError> {
        if filled.chars().count() > MAX_COMPANY_NAME_CHARS {
            return Err(FieldError::CompanyNameTooLong);
        }
        if filled.chars().any(char::is_control) {
            return Err(FieldError::CompanyNameInvalid);
        }
        Ok(CompanyName(filled.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it fits `fa_user.nickname` for a new account.
    pub fn fits_nickname(&self) -> bool {
        self.0.chars().count() <= MAX_NICKNAME_CHARS
    }
}

/// The sub-domain / site the tenant is for: trimmed, non-empty, at most
/// [`MAX_DOMAIN_CHARS`], no whitespace or control characters. Otherwise free-form, as the
/// original and its provision server accept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteDomain(String);

impl SiteDomain {
    pub fn parse(filled: &str) -> Result<SiteDomain, FieldError> {
        if filled.chars().count() > MAX_DOMAIN_CHARS {
            return Err(FieldError::DomainTooLong);
        }
        if filled.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(FieldError::DomainInvalid);
        }
        Ok(SiteDomain(filled.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Optional notes, trimmed (PHP `trim`), at most [`MAX_NOTES_CHARS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notes(String);

impl Notes {
    pub fn parse(raw: Option<&str>) -> Result<Notes, FieldError> {
        let t = raw
            .unwrap_or("")
            .trim_matches([' ', '\t', '\n', '\r', '\0', '\x0b']);
        if t.chars().count() > MAX_NOTES_CHARS {
            return Err(FieldError::NotesTooLong);
        }
        Ok(Notes(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_follows_php_truthiness() {
        assert_eq!(php_filled(None), None);
        assert_eq!(php_filled(Some("  ")), None);
        assert_eq!(php_filled(Some(" 0 ")), None);
        assert_eq!(php_filled(Some(" Acme ")), Some("Acme"));
        assert_eq!(php_filled(Some("00")), Some("00"));
    }

    #[test]
    fn company_names_are_bounded_by_their_columns() {
        let n = CompanyName::parse(&"公".repeat(100)).unwrap();
        assert!(!n.fits_nickname());
        assert!(
            CompanyName::parse(&"公".repeat(50))
                .unwrap()
                .fits_nickname()
        );
        assert_eq!(
            CompanyName::parse(&"公".repeat(101)),
            Err(FieldError::CompanyNameTooLong)
        );
        assert_eq!(
            CompanyName::parse("a\u{0}b"),
            Err(FieldError::CompanyNameInvalid)
        );
        assert!(CompanyName::parse("<img src=x onerror=alert(1)>").is_ok());
    }

    #[test]
    fn domains_and_notes() {
        assert!(SiteDomain::parse("bob-ent").is_ok());
        assert_eq!(SiteDomain::parse("a b"), Err(FieldError::DomainInvalid));
        assert_eq!(
            SiteDomain::parse(&"d".repeat(256)),
            Err(FieldError::DomainTooLong)
        );
        assert_eq!(Notes::parse(None).unwrap().as_str(), "");
        assert_eq!(Notes::parse(Some(" 备注\n ")).unwrap().as_str(), "备注");
        assert_eq!(
            Notes::parse(Some(&"n".repeat(1001))),
            Err(FieldError::NotesTooLong)
        );
    }
}
