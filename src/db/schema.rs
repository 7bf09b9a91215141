//! Schema inspection and migration (`chathub migrate`, `chathub check`).
//!
//! The addon's tables are created from `install.sql` (the original's, `__PREFIX__` replaced).

/// The original addon's `install.sql`, verbatim apart from the placeholder.
pub const INSTALL_SQL: &str = include_str!("../../install.sql");

/// `install.sql` with the site's table prefix, split into statements.
pub fn install_statements(prefix: &str) -> Vec<String> {
    INSTALL_SQL
        .replace("__PREFIX__", prefix)
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
