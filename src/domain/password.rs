//! Member passwords: every hash a real FastAdmin site holds, and the one we write.

use subtle::ConstantTimeEq as _;

/// bcrypt cost for new hashes: PHP's `password_hash()` default.
const BCRYPT_COST: u32 = 10;

/// Does `plain` match the stored `hash` (with the row's `salt`)?
///
/// Accepted, in order: bcrypt (`$2y$`/`$2a$`/`$2b$`, as PHP's `password_hash` writes);
/// FastAdmin's own `md5(md5(password) . salt)`; the original addon's `md5(password)` for salted
/// rows (the only kind of row it could sign in on a stock schema).
pub fn verify(plain: &str, hash: &str, salt: &str) -> bool {
    if plain.is_empty() || hash.is_empty() {
        return false;
    }
    if is_bcrypt(hash) {
        return bcrypt_verify(plain, hash);
    }
    let fastadmin = md5_hex(&format!("{}{salt}", md5_hex(plain)));
    if bool::from(fastadmin.as_bytes().ct_eq(hash.as_bytes())) {
        return true;
    }
    !salt.is_empty() && bool::from(md5_hex(plain).as_bytes().ct_eq(hash.as_bytes()))
}

/// A bcrypt hash of no one's password, checked whenever there is no bcrypt hash of the
/// account's own to check.
const DECOY_HASH: &str = "$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe";

/// The sign-in check: does `plain` match `stored` (hash, salt)? `None` when there is nothing
/// to compare with (unknown email, attempt refused by the limits). Every call costs exactly
/// one bcrypt verification, whatever the account's scheme or whether there is an account, so
/// a refusal's timing tells nothing about why.
pub fn verify_for_sign_in(plain: &str, stored: Option<(&str, &str)>) -> bool {
    match stored {
        Some((hash, _)) if is_bcrypt(hash) => bcrypt_verify(plain, hash),
        other => {
            let matches = other.is_some_and(|(hash, salt)| verify(plain, hash, salt));
            bcrypt_verify(plain, DECOY_HASH);
            matches
        }
    }
}

fn bcrypt_verify(plain: &str, hash: &str) -> bool {
    #[cfg(test)]
    tests::BCRYPT_RUNS.with(|n| n.set(n.get() + 1));
    bcrypt::verify(plain, hash).unwrap_or(false)
}

pub fn is_bcrypt(hash: &str) -> bool {
    ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p))
}

/// A new hash: bcrypt in PHP's `$2y$` form, so the PHP addon can still verify it after a
/// rollback. 60 characters: needs the widened `fa_user.password` (MIGRATIONS.md).
pub fn hash(plain: &str) -> Result<String, bcrypt::BcryptError> {
    Ok(bcrypt::hash_with_result(plain, BCRYPT_COST)?.format_for_version(bcrypt::Version::TwoY))
}

/// An initial password for a new member: 10 lowercase hex characters like the original's,
/// but drawn from a CSPRNG (rand's thread RNG, seeded by the OS) instead of md5(email . time()).
pub fn generate_initial() -> String {
    let bytes: [u8; 5] = rand::random();
    hex::encode(bytes)
}

pub fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        pub(super) static BCRYPT_RUNS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    fn bcrypt_runs(f: impl FnOnce() -> bool) -> (bool, u32) {
        let before = BCRYPT_RUNS.with(|n| n.get());
        let ok = f();
        (ok, BCRYPT_RUNS.with(|n| n.get()) - before)
    }

    #[test]
    fn every_sign_in_check_costs_one_bcrypt() {
        let bcrypt = "$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe";
        let fastadmin = md5_hex(&format!("{}abc123", md5_hex("secret")));
        let addon = "8a2552332d39695709a007fbcef16e49";
        type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, bool);
        let cases: [Case; 8] = [
            // legacy md5 account, wrong and right password
            ("nope", Some((addon, "legacy1")), false),
            ("alice-pass-1", Some((addon, "legacy1")), true),
            ("nope", Some((&fastadmin, "abc123")), false),
            ("secret", Some((&fastadmin, "abc123")), true),
            // bcrypt account
            ("nope", Some((bcrypt, "")), false),
            ("erin-pass-5", Some((bcrypt, "")), true),
            // unknown email / refused attempt: nothing to compare, even with the decoy's
            // own password
            ("anything", None, false),
            ("erin-pass-5", None, false),
        ];
        for (plain, stored, expected) in cases {
            let (ok, runs) = bcrypt_runs(|| verify_for_sign_in(plain, stored));
            assert_eq!((ok, runs), (expected, 1), "{plain} {stored:?}");
        }
    }

    #[test]
    fn bcrypt_as_php_writes_it() {
        // password_hash('erin-pass-5', PASSWORD_BCRYPT) from the recorded fixture user.
        let h = "$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe";
        assert!(verify("erin-pass-5", h, ""));
        assert!(!verify("erin-pass-6", h, ""));
        for prefix in ["$2a$", "$2b$"] {
            let other = h.replacen("$2y$", prefix, 1);
            assert!(verify("erin-pass-5", &other, ""), "{prefix}");
        }
    }

    #[test]
    fn fastadmin_and_addon_md5_schemes() {
        // FastAdmin: md5(md5('secret') . 'abc123')
        let fa = md5_hex(&format!("{}abc123", md5_hex("secret")));
        assert!(verify("secret", &fa, "abc123"));
        assert!(!verify("secret", &fa, "other"));
        // Original addon, salted row: md5('alice-pass-1') (recorded fixture user alice)
        assert!(verify(
            "alice-pass-1",
            "8a2552332d39695709a007fbcef16e49",
            "legacy1"
        ));
        assert!(!verify(
            "alice-pass-2",
            "8a2552332d39695709a007fbcef16e49",
            "legacy1"
        ));
        // ...but not for unsalted rows, as the original.
        assert!(!verify(
            "alice-pass-1",
            "8a2552332d39695709a007fbcef16e49",
            ""
        ));
        assert!(!verify("", "", ""));
    }

    #[test]
    fn new_hashes_are_php_compatible_bcrypt() {
        let h = hash("n3w-secret").unwrap();
        assert!(h.starts_with("$2y$10$") && h.len() == 60);
        assert!(verify("n3w-secret", &h, ""));
        let p = generate_initial();
        assert_eq!(p.len(), 10);
        assert!(p.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(p, generate_initial());
    }
}
