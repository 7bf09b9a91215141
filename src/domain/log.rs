//! Entries of the addon's operation log (`fa_chathub_log`) as the admin pages show them.

/// One `fa_chathub_log` row as the admin pages show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    pub tenant_id: i64,
    pub action: String,
    pub status: String,
    pub operator: String,
    pub createtime: i64,
}
