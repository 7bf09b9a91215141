//! Tenants: ids, statuses and the resources the provision server gave them.

/// Tenant ids are their own type so a user id cannot be passed where a tenant id is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantStatus {
    Pending,
    Provisioning,
    Active,
    Suspended,
    Disabled,
}

impl TenantStatus {
    pub const ALL: [TenantStatus; 5] = [
        TenantStatus::Pending,
        TenantStatus::Provisioning,
        TenantStatus::Active,
        TenantStatus::Suspended,
        TenantStatus::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Pending => "pending",
            TenantStatus::Provisioning => "provisioning",
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<TenantStatus> {
        TenantStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}
/// Resources the provision server created (the fields the original copies into the tenant).
#[derive(Clone, Debug, PartialEq)]
pub struct Provisioned {
    pub inbox_id: Option<i64>,
    pub inbox_token: Option<String>,
    pub inbox_name: Option<String>,
    pub team_id: Option<i64>,
    pub agent_cw_id: Option<i64>,
    pub agent_cw_password: Option<String>,
    pub embed_code: Option<String>,
}
